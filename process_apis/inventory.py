"""Stock reads: positions per bin from the WMS, with the states kept apart."""

from __future__ import annotations

from contextlib import aclosing
from dataclasses import dataclass

from domain.inventory import InventoryPosition
from system_apis.paging import Page
from system_apis.wms.client import WmsClient

MAX_POSITIONS = 500
"""A bound on one unpaged answer; a SKU stocked in more bins than this is read page by page."""


class TooManyPositions(Exception):
    """More positions than one unpaged answer holds; said to the caller, never cut silently."""

    def __init__(self, sku: str) -> None:
        self.public_message = (
            f"SKU {sku} is stocked in more than {MAX_POSITIONS} bins; "
            "page through inventory(sku:) or name a warehouse"
        )
        super().__init__(self.public_message)


@dataclass(frozen=True, slots=True)
class InventoryQueries:
    wms: WmsClient

    async def positions_page(
        self, sku: str, warehouse_id: str | None, *, first: int, after: str | None
    ) -> Page[InventoryPosition]:
        return await self.wms.inventory_page(
            sku=sku, warehouse_id=warehouse_id, cursor=after, limit=first
        )

    async def positions(
        self, sku: str, warehouse_id: str | None = None
    ) -> tuple[InventoryPosition, ...]:
        """Every position of the SKU; `TooManyPositions` past `MAX_POSITIONS`."""
        positions: list[InventoryPosition] = []
        async with aclosing(self.wms.inventory(sku=sku, warehouse_id=warehouse_id)) as stock:
            async for position in stock:
                if len(positions) == MAX_POSITIONS:
                    raise TooManyPositions(sku)
                positions.append(position)
        return tuple(positions)
