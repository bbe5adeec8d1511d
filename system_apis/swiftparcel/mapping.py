"""SwiftParcel's status codes and events to canonical milestones; plain functions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.shipments import Milestone, MilestoneStatus
from system_apis import fields
from system_apis.milestones import canonical_status, carrier_event_id, derived_event_id

CARRIER = "SWFT"

STATUS: Mapping[str, MilestoneStatus] = {
    "MR": MilestoneStatus.INFO_RECEIVED,  # manifest received
    "PU": MilestoneStatus.IN_TRANSIT,  # picked up
    "IT": MilestoneStatus.IN_TRANSIT,  # in transit
    "AR": MilestoneStatus.IN_TRANSIT,  # arrived at hub
    "OD": MilestoneStatus.OUT_FOR_DELIVERY,
    "DL": MilestoneStatus.DELIVERED,
    "NA": MilestoneStatus.FAILED_ATTEMPT,  # delivery attempted, not home
    "HP": MilestoneStatus.AVAILABLE_FOR_PICKUP,  # held at pickup point
    "EX": MilestoneStatus.EXCEPTION,
    "RS": MilestoneStatus.RETURNED,  # returned to sender
}


def milestone_from_swift(tracking_number: str, record: Any, where: str = "event") -> Milestone:
    data = fields.as_object(record, where)
    code = fields.text(data, "code", where)
    status = canonical_status(CARRIER, code, STATUS, f"{where}.code")
    occurred_at = fields.aware_datetime(data, "timestamp", where)
    own_id = data.get("id")
    location = fields.as_object(data.get("location") or {}, f"{where}.location")
    with fields.canonical(where):
        return Milestone(
            event_id=(
                carrier_event_id(CARRIER, own_id)
                if isinstance(own_id, str) and own_id
                else derived_event_id(CARRIER, tracking_number, code, occurred_at)
            ),
            tracking_number=tracking_number,
            status=status,
            occurred_at=occurred_at,
            carrier=CARRIER,
            carrier_code=code,
            carrier_description=fields.optional_text(data, "description", where) or "",
            reason=fields.optional_text(data, "reason", where),
            city=fields.optional_text(location, "city", f"{where}.location"),
            region=fields.optional_text(location, "region", f"{where}.location"),
            country=fields.optional_text(location, "country", f"{where}.location"),
        )


def milestones_from_tracking(answer: Any, where: str = "tracking") -> tuple[Milestone, ...]:
    """A pull-tracking answer ({"trackingNumber", "events": [...]}) to milestones."""
    data = fields.as_object(answer, where)
    tracking_number = fields.text(data, "trackingNumber", where)
    events = fields.as_list(data.get("events") or [], f"{where}.events")
    return tuple(
        milestone_from_swift(tracking_number, event, f"{where}.events[{index}]")
        for index, event in enumerate(events)
    )
