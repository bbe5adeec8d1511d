"""Which tenant owns an order: from the cache, else the orders read model, else asked of the
ERP once; then cached (ownership never changes).

Ownership here is always a tenant's (a customer account's); which backend's word is final
for a field is its system of record (`domain.system_of_record`), another concept.

Every tenant check of a shipment or invoice comes down to its order's owner, so without this
cache each shipment in a list would cost an ERP call and run into the ERP's rate limit. Several
orders are looked up together (`owners_of`): the ones the cache does not know cost one ERP
listing between them. A cache that fails (Redis down) only costs the ERP call; it never fails
the request.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from aiocache.base import BaseCache

from domain.orders import Order
from stores.orders import OrderStore
from system_apis.erp.client import ErpClient

logger = logging.getLogger(__name__)

LOOKUP_BATCH = 100
"""Orders asked of the ERP in one listing (it takes up to 200 per page)."""


@dataclass(frozen=True, slots=True)
class OrderOwnership:
    erp: ErpClient
    cache: BaseCache
    ttl_s: int = 3600
    read_model: OrderStore | None = None

    async def owner_of(self, order_id: str) -> str | None:
        """The owning customer id, or None when the ERP has no such order."""
        return (await self.owners_of([order_id])).get(order_id)

    async def owners_of(self, order_ids: Sequence[str]) -> Mapping[str, str]:
        """The owner of each order the ERP knows; unknown orders are left out."""
        wanted = list(dict.fromkeys(order_ids))
        owners = await self._cached(wanted)
        missing = [order_id for order_id in wanted if order_id not in owners]
        if missing and self.read_model is not None:
            held = await self.read_model.owners_of(missing)
            owners.update(held)
            await self._remember(held)
            missing = [order_id for order_id in missing if order_id not in held]
        for start in range(0, len(missing), LOOKUP_BATCH):
            batch = missing[start : start + LOOKUP_BATCH]
            page = await self.erp.orders_page(None, order_ids=batch, limit=len(batch))
            found = {order.order_id: order.customer_id for order in page.items}
            owners.update((order_id, found[order_id]) for order_id in batch if order_id in found)
            await self._remember(found)
        return owners

    async def remember(self, orders: Iterable[Order]) -> None:
        """Record the owners of orders just read from the ERP, sparing the lookup later."""
        await self._remember({order.order_id: order.customer_id for order in orders})

    async def _cached(self, order_ids: list[str]) -> dict[str, str]:
        if not order_ids:
            return {}
        try:
            values = await self.cache.multi_get([_key(order_id) for order_id in order_ids])
        except Exception:  # a cache outage must not fail the request
            logger.warning("order ownership cache unavailable", exc_info=True)
            return {}
        return {
            order_id: value
            for order_id, value in zip(order_ids, values, strict=True)
            if isinstance(value, str)
        }

    async def _remember(self, owners: Mapping[str, str]) -> None:
        if not owners:
            return
        try:
            pairs = [(_key(order_id), owner) for order_id, owner in owners.items()]
            await self.cache.multi_set(pairs, ttl=self.ttl_s)
        except Exception:
            logger.warning("order ownership cache unavailable", exc_info=True)


def _key(order_id: str) -> str:
    return f"order-owner:{order_id}"
