"""ERP order changes as events for the backbone: `order.changed`, one per change.

The event id is the ERP's own change stamp (`ERP:order-change:<change_no>`), so a change read
again (a poller re-reading a page, or two processes after a lease hand-over) is deduplicated by
the event log. The payload is the whole canonical order (`domain.orders.order_record`, its
`status` the canonical name such as "RELEASED") plus the change number, which orders changes
of one order whatever order they reach the log in.
"""

from __future__ import annotations

from datetime import datetime

from domain.events import EventEnvelope, SourceSystem
from domain.orders import order_record
from system_apis.erp.changes import OrderChange

ORDER_CHANGED_EVENT_TYPE = "order.changed"


def order_change_event_id(change_number: int) -> str:
    return f"ERP:order-change:{change_number}"


def order_changed_envelope(
    change: OrderChange, *, received_at: datetime, correlation_id: str
) -> EventEnvelope:
    """The change as an `order.changed` event; the aggregate is the order, the tenant its
    customer (the ERP knows it, so every order event names its tenant)."""
    order = change.order
    return EventEnvelope(
        event_id=order_change_event_id(change.change_number),
        event_type=ORDER_CHANGED_EVENT_TYPE,
        source=SourceSystem.ERP,
        source_name="ERP",
        aggregate_type="Order",
        aggregate_id=order.order_id,
        occurred_at=change.changed_at or received_at,
        received_at=received_at,
        correlation_id=correlation_id,
        tenant_id=order.customer_id,
        payload={**order_record(order), "change_number": change.change_number},
    )
