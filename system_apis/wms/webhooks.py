"""WMS outbound webhooks to canonical events, after proving they come from the WMS.

The WMS signs `timestamp + "." + raw body` with HMAC-SHA256 (`X-WMS-Signature: sha256=<hex>`,
`X-WMS-Timestamp` in unix seconds). A timestamp further than `tolerance` from now is refused as
well, so a captured delivery cannot be replayed later. Deliveries are at least once: a duplicate
carries the same `event_id`, which becomes the envelope's id, so the event log drops it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.events import EventEnvelope, SourceSystem, utc_now
from system_apis import fields
from system_apis.context import resolve_correlation_id
from system_apis.errors import InvalidSignature, MalformedPayload, UnknownStatusCode
from system_apis.signatures import header, verify_hmac_sha256
from system_apis.wms.events import ADJUSTED_EVENT_TYPE, POSITION_AGGREGATE
from system_apis.wms.mapping import position_from_wms, position_payload, task_from_wms, task_payload
from system_apis.wms.returns import receipt_from_wms, receipt_payload

DEFAULT_TOLERANCE = timedelta(minutes=5)
SIGNATURE_PREFIX = "sha256="


def verify_wms_signature(
    body: bytes,
    headers: Mapping[str, str],
    secret: str,
    *,
    now: datetime | None = None,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> None:
    """Raise `InvalidSignature` unless the delivery is signed with `secret` and fresh."""
    timestamp = header(headers, "X-WMS-Timestamp")
    signature = header(headers, "X-WMS-Signature")
    if not timestamp or not signature:
        raise InvalidSignature("missing X-WMS-Timestamp or X-WMS-Signature")
    if not signature.startswith(SIGNATURE_PREFIX):
        raise InvalidSignature("X-WMS-Signature must start with sha256=")
    try:
        sent_at = datetime.fromtimestamp(int(timestamp.strip()), UTC)
    except (ValueError, OverflowError, OSError):
        raise InvalidSignature("X-WMS-Timestamp is not unix seconds") from None
    verify_hmac_sha256(
        secret, timestamp.strip().encode() + b"." + body, signature[len(SIGNATURE_PREFIX) :]
    )
    if abs((now or utc_now()) - sent_at) > tolerance:
        raise InvalidSignature("X-WMS-Timestamp is outside the accepted window")


def parse_wms_webhook(
    body: bytes,
    headers: Mapping[str, str],
    secret: str,
    *,
    now: datetime | None = None,
    tolerance: timedelta = DEFAULT_TOLERANCE,
    correlation_id: str | None = None,
) -> EventEnvelope:
    """One verified WMS delivery as a canonical event (payload in canonical, JSON-ready form).

    Raises `InvalidSignature`, `MalformedPayload`, or `UnknownStatusCode` for an event type
    this version does not know (kept as a dead letter until it does).
    """
    received_at = now or utc_now()
    verify_wms_signature(body, headers, secret, now=received_at, tolerance=tolerance)
    return read_wms_webhook(body, headers, received_at=received_at, correlation_id=correlation_id)


def read_wms_webhook(
    body: bytes,
    headers: Mapping[str, str],
    *,
    received_at: datetime | None = None,
    correlation_id: str | None = None,
) -> EventEnvelope:
    """The event in an already verified delivery (also how a kept dead letter is replayed)."""
    received_at = received_at or utc_now()
    data = fields.as_object(fields.json_body(body), "body")
    event_type = fields.text(data, "type", "body")
    describe = _EVENT_TYPES.get(event_type)
    if describe is None:
        raise UnknownStatusCode("WMS event type", event_type, "body.type")
    with fields.canonical("body"):
        aggregate_type, aggregate_id, payload = describe(fields.field(data, "data", "body"))
        return EventEnvelope(
            event_id=f"WMS:{fields.text(data, 'event_id', 'body')}",
            event_type=event_type,
            source=SourceSystem.WMS,
            source_name="WMS",
            aggregate_type=aggregate_type,
            aggregate_id=aggregate_id,
            occurred_at=fields.aware_datetime(data, "occurred_at", "body"),
            received_at=received_at,
            correlation_id=resolve_correlation_id(correlation_id),
            tenant_id=_tenant_of(payload),
            payload={**payload, "delivery_id": header(headers, "X-WMS-Delivery")},
        )


def _tenant_of(payload: Mapping[str, Any]) -> str | None:
    """The stock owner, for the events that name one (returns are received for a customer)."""
    owner = payload.get("customer_id")
    return owner if isinstance(owner, str) and owner else None


def _inventory_adjusted(data: Any) -> tuple[str, str, dict[str, Any]]:
    record = fields.as_object(data, "body.data")
    position = position_from_wms(record, "body.data")
    payload = position_payload(position)
    payload["delta"] = str(fields.decimal(record, "delta", "body.data"))
    payload["reason"] = fields.optional_text(record, "reason", "body.data")
    return POSITION_AGGREGATE, position.key, payload


def _task_completed(data: Any) -> tuple[str, str, dict[str, Any]]:
    task = task_from_wms(data, "body.data")
    return "PickTask", task.task_id, task_payload(task)


def _shipment_dispatched(data: Any) -> tuple[str, str, dict[str, Any]]:
    record = fields.as_object(data, "body.data")
    tracking_number = fields.text(record, "tracking_number", "body.data")
    payload = {
        "order_id": fields.text(record, "order_ref", "body.data"),
        "tracking_number": tracking_number,
        "carrier": fields.text(record, "carrier", "body.data"),
    }
    return "Shipment", tracking_number, payload


def _return_received(data: Any) -> tuple[str, str, dict[str, Any]]:
    receipt = receipt_from_wms(data, "body.data")
    return "Return", receipt.rma_id, receipt_payload(receipt)


def _return_inspected(data: Any) -> tuple[str, str, dict[str, Any]]:
    receipt = receipt_from_wms(data, "body.data")
    if not receipt.inspected:
        raise MalformedPayload("body.data.state: a return.inspected event must be inspected")
    return "Return", receipt.rma_id, receipt_payload(receipt)


_EVENT_TYPES: Mapping[str, Callable[[Any], tuple[str, str, dict[str, Any]]]] = {
    ADJUSTED_EVENT_TYPE: _inventory_adjusted,
    "task.completed": _task_completed,
    "shipment.dispatched": _shipment_dispatched,
    "return.received": _return_received,
    "return.inspected": _return_inspected,
}
