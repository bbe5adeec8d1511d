"""Stock reads: positions per bin from the WMS, with the states kept apart."""

from __future__ import annotations

from contextlib import aclosing
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
        async with aclosing(self.wms.inventory(sku=sku, warehouse_id=warehouse_id)) as stock:
            async for position in stock:
                positions.append(position)
                if len(positions) >= MAX_POSITIONS:
                    break
        return tuple(positions)
