"""The logistics entities' cache tags, and which a backbone event purges.

Answers are tagged with the entities they hold (`federation.router.caching.entity_tag`, by
type and key, the form the router gives `_entities` answers); a list is tagged besides with
what adds to it (a tenant's orders). A change on the backbone names its aggregate, and so the
tags to purge: a shipment's milestone, booking or dispatch purges that shipment (and its
order, whose shipments list it is on), an order change that order and the tenant's order
list, a stock change that item.
"""

from __future__ import annotations

from collections.abc import Iterable

from domain.events import EventEnvelope
from federation.router.caching import entity_tag

SHIPMENT_AGGREGATE = "Shipment"
ORDER_AGGREGATE = "Order"
POSITION_AGGREGATE = "InventoryPosition"
INVALIDATING_AGGREGATES = (SHIPMENT_AGGREGATE, ORDER_AGGREGATE, POSITION_AGGREGATE)


def shipment_tag(tracking_number: str) -> str:
    return entity_tag("Shipment", {"trackingNumber": tracking_number})


def order_tag(order_id: str) -> str:
    return entity_tag("Order", {"id": order_id})


def item_tag(sku: str) -> str:
    return entity_tag("Item", {"sku": sku})


def orders_of_tenant_tag(tenant_id: str) -> str:
    """Every list of the tenant's orders: a new or changed order may enter or move in it."""
    return f"orders-of:{tenant_id}"


def tags_of_event(envelope: EventEnvelope) -> tuple[str, ...]:
    """The tags a change purges; none for an event that changes no cached answer."""
    payload = envelope.payload
    if envelope.aggregate_type == SHIPMENT_AGGREGATE:
        tags = [shipment_tag(envelope.aggregate_id)]
        order_id = payload.get("order_id")
        if isinstance(order_id, str) and order_id:
            tags.append(order_tag(order_id))
        return tuple(tags)
    if envelope.aggregate_type == ORDER_AGGREGATE:
        tags = [order_tag(envelope.aggregate_id)]
        if envelope.tenant_id:
            tags.append(orders_of_tenant_tag(envelope.tenant_id))
        return tuple(tags)
    if envelope.aggregate_type == POSITION_AGGREGATE:
        sku = payload.get("sku")
        if not isinstance(sku, str) or not sku:
            sku = envelope.aggregate_id.rsplit("/", 1)[-1]
        return (item_tag(sku),)
    return ()


def tags_of_events(envelopes: Iterable[EventEnvelope]) -> tuple[str, ...]:
    """The tags of a batch, each once, in first-seen order."""
    return tuple(dict.fromkeys(tag for envelope in envelopes for tag in tags_of_event(envelope)))
