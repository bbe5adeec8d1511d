"""RoadLine LTL status rows to canonical milestones; plain functions.

Rows carry a terminal-local time and the terminal's IANA zone, turned here into an aware time.
A row's `seq` is its position in RoadLine's feed, not an event id (a re-sent status gets a new
one), so milestone ids are derived from (carrier, PRO, status, instant).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.shipments import Milestone, MilestoneStatus
from system_apis import fields
from system_apis.errors import MalformedPayload
from system_apis.milestones import (
    MilestoneBatch,
    RejectedRecord,
    canonical_status,
    derived_event_id,
)

CARRIER = "RDLN"

STATUS: Mapping[str, MilestoneStatus] = {
    "DISPATCHED": MilestoneStatus.INFO_RECEIVED,  # driver on the way to pick up
    "PICKED_UP": MilestoneStatus.IN_TRANSIT,
    "AT_TERMINAL": MilestoneStatus.IN_TRANSIT,
    "IN_LINEHAUL": MilestoneStatus.IN_TRANSIT,
    "OUT_FOR_DELIVERY": MilestoneStatus.OUT_FOR_DELIVERY,
    "DELIVERED": MilestoneStatus.DELIVERED,
    "APPOINTMENT_MISSED": MilestoneStatus.FAILED_ATTEMPT,
    "DAMAGED": MilestoneStatus.EXCEPTION,
    "REFUSED": MilestoneStatus.EXCEPTION,
    "RETURNED": MilestoneStatus.RETURNED,
}


def local_time(data: Mapping[str, Any], where: str) -> datetime:
    """`statusDateTime` (terminal-local, no offset) read in `timeZone` (an IANA name)."""
    stamp = fields.text(data, "statusDateTime", where)
    zone_name = fields.text(data, "timeZone", where)
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise MalformedPayload(f"{where}.timeZone: unknown time zone {zone_name!r}") from None
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        raise MalformedPayload(
            f"{where}.statusDateTime: expected 'YYYY-MM-DD HH:MM:SS', got {stamp!r}"
        ) from None
    if moment.tzinfo is not None:
        raise MalformedPayload(f"{where}.statusDateTime: has an offset and a zone, pick one")
    return moment.replace(tzinfo=zone)


def milestone_from_roadline(pro: str, record: Any, where: str = "status") -> Milestone:
    data = fields.as_object(record, where)
    code = fields.text(data, "status", where)
    status = canonical_status(CARRIER, code, STATUS, f"{where}.status")
    occurred_at = local_time(data, where)
    remarks = fields.optional_text(data, "remarks", where) or code
    terminal = fields.optional_text(data, "terminal", where)
    with fields.canonical(where):
        return Milestone(
            event_id=derived_event_id(CARRIER, pro, code, occurred_at),
            tracking_number=pro,
            status=status,
            occurred_at=occurred_at,
            carrier=CARRIER,
            carrier_code=code,
            carrier_description=f"{remarks} (terminal {terminal})" if terminal else remarks,
        )


def milestones_from_shipment(answer: Any, where: str = "shipment") -> tuple[Milestone, ...]:
    """`GET /api/shipments/{pro}` to its milestones, oldest first as RoadLine lists them."""
    data = fields.as_object(answer, where)
    pro = fields.text(data, "pro", where)
    history = fields.as_list(data.get("history") or [], f"{where}.history")
    return tuple(
        milestone_from_roadline(pro, row, f"{where}.history[{index}]")
        for index, row in enumerate(history)
    )


def milestones_from_status_updates(answer: Any, where: str = "updates") -> MilestoneBatch:
    """A status-updates page to milestones, row by row: a row that does not map is set apart
    (never dropped) and the cursor still moves past it."""
    data = fields.as_object(answer, where)
    rows = fields.as_list(data.get("updates") or [], f"{where}.updates")
    cursor = data.get("cursor")
    milestones: list[Milestone] = []
    rejected: list[RejectedRecord] = []
    for index, row in enumerate(rows):
        row_where = f"{where}.updates[{index}]"
        try:
            record = fields.as_object(row, row_where)
            milestones.append(
                milestone_from_roadline(fields.text(record, "pro", row_where), record, row_where)
            )
        except MalformedPayload as error:
            rejected.append(RejectedRecord(raw=json.dumps(row).encode(), error=error))
    return MilestoneBatch(
        milestones=tuple(milestones),
        rejected=tuple(rejected),
        cursor=str(cursor) if cursor not in (None, "") else None,
    )
