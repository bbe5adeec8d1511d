"""What every carrier mapping shares: status lookup, deterministic event ids, the envelope.

Event ids decide deduplication downstream (the event log and the milestone history are keyed by
them), so they must not depend on when or how often an event reached us: the carrier's own event
id where it has one, else a hash of what makes the event itself (carrier, tracking number,
carrier code, the instant it happened). The same event pulled and pushed, or pushed twice,
gets the same id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from domain.events import EventEnvelope, SourceSystem
from domain.shipments import Milestone, MilestoneStatus, milestone_fields, milestone_from_fields
from domain.storable import check_instant
from system_apis.errors import MalformedPayload, UnknownStatusCode

MILESTONE_EVENT_TYPE = "shipment.milestone"


def canonical_status(
    carrier: str, code: str, table: Mapping[str, MilestoneStatus], where: str = ""
) -> MilestoneStatus:
    """The canonical status of a carrier code; unknown codes are never guessed."""
    try:
        return table[code]
    except KeyError:
        raise UnknownStatusCode(carrier, code, where) from None


def carrier_event_id(carrier: str, own_id: str) -> str:
    """The carrier's own event id, namespaced so two carriers' ids never collide."""
    return f"{carrier}:{own_id}"


def derived_event_id(carrier: str, tracking_number: str, code: str, occurred_at: datetime) -> str:
    """A stable id for carriers that send none; equal events (same instant in any zone) match."""
    check_instant("occurred_at", occurred_at)
    instant = occurred_at.astimezone(UTC).isoformat()
    digest = hashlib.sha256(f"{carrier}|{tracking_number}|{code}|{instant}".encode()).hexdigest()
    return f"{carrier}:{digest[:32]}"


def milestone_payload(milestone: Milestone) -> dict[str, Any]:
    """A JSON-ready form of a milestone for the event log (orjson-safe, no Decimals)."""
    return {**milestone_fields(milestone), "occurred_at": milestone.occurred_at.isoformat()}


def milestone_from_payload(payload: Mapping[str, Any]) -> Milestone:
    """The inverse of `milestone_payload`, for consumers reading the event log."""
    return milestone_from_fields(payload)


def milestone_envelope(
    milestone: Milestone,
    *,
    received_at: datetime,
    correlation_id: str,
    tenant_id: str | None = None,
) -> EventEnvelope:
    """Wrap a milestone for the event backbone; the aggregate is the tracking number."""
    return EventEnvelope(
        event_id=milestone.event_id,
        event_type=MILESTONE_EVENT_TYPE,
        source=SourceSystem.CARRIER,
        source_name=milestone.carrier,
        aggregate_type="Shipment",
        aggregate_id=milestone.tracking_number,
        occurred_at=milestone.occurred_at,
        received_at=received_at,
        correlation_id=correlation_id,
        tenant_id=tenant_id,
        payload=milestone_payload(milestone),
    )


@dataclass(frozen=True, slots=True)
class RejectedRecord:
    """A pulled record that could not be mapped: kept whole for the dead letters, never dropped.

    Pulls map record by record, so one bad record does not stop the cursor from moving on.
    """

    raw: bytes
    error: MalformedPayload

    @property
    def reason(self) -> str:
        return self.error.reason


@dataclass(frozen=True, slots=True)
class MilestoneBatch:
    """One pull from a carrier: what mapped, what did not, and where the next pull starts."""

    milestones: tuple[Milestone, ...]
    rejected: tuple[RejectedRecord, ...]
    cursor: str | None

    @property
    def records(self) -> tuple[Milestone, ...]:
        return self.milestones
