"""Stock reads: positions per bin from the WMS, with the states kept apart."""

from __future__ import annotations

from dataclasses import dataclass

from domain.inventory import InventoryPosition
from system_apis.wms.client import WmsClient

MAX_POSITIONS = 500
"""A bound on one answer; a SKU stocked in more bins than this is paged by the caller."""


@dataclass(frozen=True, slots=True)
class InventoryQueries:
    wms: WmsClient

    async def positions(
        self, sku: str, warehouse_id: str | None = None
    ) -> tuple[InventoryPosition, ...]:
        positions: list[InventoryPosition] = []
        cursor: str | None = None
        while len(positions) < MAX_POSITIONS:
            page = await self.wms.inventory_page(sku=sku, warehouse_id=warehouse_id, cursor=cursor)
            positions.extend(page.items)
            if not page.next_token or page.next_token == cursor:
                break
            cursor = page.next_token
        return tuple(positions[:MAX_POSITIONS])
