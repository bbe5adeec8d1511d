"""The canonical event envelope every event in the product travels in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from domain.storable import InvalidCanonicalValue, RecordChecks, check_json

ENVELOPE_TEXT_LIMITS: Mapping[str, int] = {
    "event_id": 200,
    "event_type": 100,
    "source_name": 100,
    "aggregate_type": 100,
    "aggregate_id": 200,
    "correlation_id": 200,
    "tenant_id": 100,
}
"""Maximum length of each text field; the event log's columns are sized from it."""


class SourceSystem(StrEnum):
    ERP = "ERP"
    WMS = "WMS"
    TMS = "TMS"
    CARRIER = "CARRIER"
    GATEWAY = "GATEWAY"


@dataclass(frozen=True, slots=True)
class EventEnvelope:
    """Who said what about which aggregate, when it happened and when we heard it.

    `event_id` is the source's own id where it has one, so a redelivered event is recognised
    as the same event; `correlation_id` ties the event to the request or workflow that caused it.
    """

    event_id: str
    event_type: str
    source: SourceSystem
    source_name: str
    aggregate_type: str
    aggregate_id: str
    occurred_at: datetime
    received_at: datetime
    correlation_id: str
    tenant_id: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)
    schema_version: int = 1

    def __post_init__(self) -> None:
        """Only what every event log can store and replay unchanged exists (`domain.storable`)."""
        _ENVELOPE_CHECKS(self)
        if not self.event_id:
            raise InvalidCanonicalValue("EventEnvelope.event_id", "must not be empty")
        if not self.aggregate_id:
            raise InvalidCanonicalValue("EventEnvelope.aggregate_id", "must not be empty")
        check_json("EventEnvelope.payload", self.payload)


_ENVELOPE_CHECKS = RecordChecks.of(EventEnvelope, ENVELOPE_TEXT_LIMITS)


def utc_now() -> datetime:
    return datetime.now(UTC)


def envelope_to_dict(envelope: EventEnvelope) -> dict[str, Any]:
    """A JSON-ready form of the envelope, stable across stores and transports."""
    return {
        "event_id": envelope.event_id,
        "event_type": envelope.event_type,
        "source": envelope.source.value,
        "source_name": envelope.source_name,
        "aggregate_type": envelope.aggregate_type,
        "aggregate_id": envelope.aggregate_id,
        "occurred_at": envelope.occurred_at.isoformat(),
        "received_at": envelope.received_at.isoformat(),
        "correlation_id": envelope.correlation_id,
        "tenant_id": envelope.tenant_id,
        "payload": dict(envelope.payload),
        "schema_version": envelope.schema_version,
    }


def envelope_from_dict(data: Mapping[str, Any]) -> EventEnvelope:
    return EventEnvelope(
        event_id=data["event_id"],
        event_type=data["event_type"],
        source=SourceSystem(data["source"]),
        source_name=data["source_name"],
        aggregate_type=data["aggregate_type"],
        aggregate_id=data["aggregate_id"],
        occurred_at=datetime.fromisoformat(data["occurred_at"]),
        received_at=datetime.fromisoformat(data["received_at"]),
        correlation_id=data["correlation_id"],
        tenant_id=data.get("tenant_id"),
        payload=data.get("payload") or {},
        schema_version=int(data.get("schema_version", 1)),
    )
