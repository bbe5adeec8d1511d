"""The orders read model as a projection of the event log.

`order.changed` events (the ERP order feed, `process_apis.polling`) fill one row per order
(`stores.orders`) with the latest change the ERP made, by its change number: an older change
seen again (a re-read, a replay) never moves an order backwards, and applying a batch twice
changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from domain.orders import order_from_record
from stores.event_log import StoredEvent
from stores.orders import ChangedOrder, OrderStore
from system_apis.erp.events import ORDER_CHANGED_EVENT_TYPE

logger = logging.getLogger(__name__)

ORDERS = "orders"
"""The projection's name: its position in the log is kept under it."""


@dataclass(frozen=True, slots=True)
class OrdersProjection:
    orders: OrderStore
    name: str = ORDERS

    async def apply(self, events: Sequence[StoredEvent]) -> None:
        changed: list[ChangedOrder] = []
        for stored in events:
            envelope = stored.envelope
            if envelope.event_type != ORDER_CHANGED_EVENT_TYPE:
                continue
            try:
                changed.append(
                    ChangedOrder(
                        order=order_from_record(envelope.payload),
                        change_number=int(envelope.payload["change_number"]),
                        position=stored.position,
                    )
                )
            except (KeyError, TypeError, ValueError) as error:
                logger.error(
                    "%s event %s at %d does not read: %s",
                    envelope.event_type,
                    envelope.event_id,
                    stored.position,
                    error,
                )
        await self.orders.record_changes(changed)

    async def reset(self) -> None:
        """Before a rebuild from scratch: forget everything."""
        await self.forget_after(0)

    async def forget_after(self, position: int) -> None:
        """Before a rebuild from `position`: drop what later events brought."""
        await self.orders.forget_after(position)
