"""Live updates: the subscription hub over the event log and what each subscription delivers."""

from process_apis.live.gate import ReadModelGate
from process_apis.live.hub import (
    HubClosed,
    Interest,
    Listener,
    ListenerFellBehind,
    SubscriptionHub,
    log_end,
)
from process_apis.live.reported import ReportedMilestones
from process_apis.live.statuses import ShipmentStatuses

__all__ = [
    "HubClosed",
    "Interest",
    "Listener",
    "ListenerFellBehind",
    "ReadModelGate",
    "ReportedMilestones",
    "ShipmentStatuses",
    "SubscriptionHub",
    "log_end",
]
