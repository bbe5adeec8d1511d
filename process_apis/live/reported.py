"""The milestone a stored event reports, read from its payload once per process.

Every milestone the hub hands out is read by the shipment statuses (folded into the pair that
decides the current status, then again for the status at that event) and by each subscription
that reports it. Reading one builds and checks a `Milestone`; a bounded memory of the recent
ones, by log position, makes that once per event however many ask.
"""

from __future__ import annotations

from collections import OrderedDict

from domain.shipments import Milestone
from stores.event_log import StoredEvent
from system_apis.milestones import MILESTONE_EVENT_TYPE, milestone_from_payload

MILESTONES_KEPT = 4096
"""Recent events whose milestone is kept: far more than a fan-out has in flight."""


class ReportedMilestones:
    """`of(event)`: the milestone a stored event reports; None for other events and for a
    payload that is not one (the history projection skips those too). Events come from one
    log, so a position names one event."""

    def __init__(self, capacity: int = MILESTONES_KEPT) -> None:
        if capacity < 1:
            raise ValueError("capacity must be 1 or more")
        self._capacity = capacity
        self._kept: OrderedDict[int, Milestone | None] = OrderedDict()

    def of(self, event: StoredEvent) -> Milestone | None:
        kept = self._kept
        position = event.position
        if position in kept:
            return kept[position]
        envelope = event.envelope
        milestone = None
        if envelope.event_type == MILESTONE_EVENT_TYPE:
            try:
                milestone = milestone_from_payload(envelope.payload)
            except (KeyError, TypeError, ValueError):
                milestone = None
        kept[position] = milestone
        if len(kept) > self._capacity:
            kept.popitem(last=False)
        return milestone
