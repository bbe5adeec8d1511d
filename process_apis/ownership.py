"""Which tenant owns an order: asked of the ERP once, then cached (ownership never changes).

Every tenant check of a shipment or invoice comes down to its order's owner, so without this
cache each shipment in a list would cost an ERP call and run into the ERP's rate limit. A cache
that fails (Redis down) only costs the ERP call; it never fails the request.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiocache.base import BaseCache

from system_apis.erp.client import ErpClient
from system_apis.errors import BackendNotFound

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OrderOwnership:
    erp: ErpClient
    cache: BaseCache
    ttl_s: int = 3600

    async def owner_of(self, order_id: str) -> str | None:
        """The owning customer id, or None when the ERP has no such order."""
        try:
            cached = await self.cache.get(f"order-owner:{order_id}")
        except Exception:  # a cache outage must not fail the request
            logger.warning("order ownership cache unavailable", exc_info=True)
            cached = None
        if isinstance(cached, str):
            return cached
        try:
            order = await self.erp.order(order_id)
        except BackendNotFound:
            return None
        try:
            await self.cache.set(f"order-owner:{order_id}", order.customer_id, ttl=self.ttl_s)
        except Exception:
            logger.warning("order ownership cache unavailable", exc_info=True)
        return order.customer_id
