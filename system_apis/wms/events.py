"""WMS stock positions as events for the backbone.

Two event types speak of a position (aggregate `InventoryPosition`, id `warehouse/bin/sku`),
both with the position's every state and the WMS's revision in the payload:

- `inventory.adjusted`: pushed by the WMS when stock moves (webhook; the WMS's event id);
- `inventory.position`: a position as read from the WMS's stock listing (the positions poller),
  which brings positions that never changed since the gateway started. Its id is derived from
  the position's key and revision, so reading an unchanged position again is deduplicated by
  the event log.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import orjson

from domain.events import EventEnvelope, SourceSystem
from domain.inventory import InventoryPosition
from system_apis.wms.mapping import position_payload

ADJUSTED_EVENT_TYPE = "inventory.adjusted"
POSITION_EVENT_TYPE = "inventory.position"
POSITION_AGGREGATE = "InventoryPosition"


def position_event_id(position: InventoryPosition, revision: int) -> str:
    """One id per (warehouse, bin, SKU, revision); hashed so any key length fits the log."""
    location = position.location
    material = orjson.dumps([location.warehouse_id, location.bin, position.sku, revision])
    return f"WMS:position:{hashlib.sha256(material).hexdigest()[:40]}:{revision}"


def position_envelope(
    position: InventoryPosition, *, received_at: datetime, correlation_id: str
) -> EventEnvelope:
    """The position as read, as an `inventory.position` event; it needs a revision (the
    order of positions rests on it)."""
    if position.revision is None:
        raise ValueError(f"position {position.key} has no revision")
    return EventEnvelope(
        event_id=position_event_id(position, position.revision),
        event_type=POSITION_EVENT_TYPE,
        source=SourceSystem.WMS,
        source_name="WMS",
        aggregate_type=POSITION_AGGREGATE,
        aggregate_id=position.key,
        occurred_at=position.updated_at or received_at,
        received_at=received_at,
        correlation_id=correlation_id,
        payload=position_payload(position),
    )
