"""The inventory subgraph: stock per bin from the WMS, every state named apart."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from domain.inventory import InventoryPosition as DomainPosition
from resolvers.context import context_of
from resolvers.errors import error_mask
from resolvers.guard import or_raise


@strawberry.type(description="Stock of one SKU in one bin; never a single 'quantity'.")
class InventoryPosition:
    sku: str
    warehouse_id: str
    bin: str
    unit: str
    on_hand: Decimal
    allocated: Decimal
    available_to_promise: Decimal = strawberry.field(
        description="On hand less allocated; quarantined and returned stock is never promised."
    )
    in_transit: Decimal
    quarantined: Decimal
    returned: Decimal
    updated_at: datetime | None

    @classmethod
    def of(cls, position: DomainPosition) -> InventoryPosition:
        return cls(
            sku=position.sku,
            warehouse_id=position.location.warehouse_id,
            bin=position.location.bin,
            unit=position.unit.value,
            on_hand=position.on_hand,
            allocated=position.allocated,
            available_to_promise=position.available_to_promise,
            in_transit=position.in_transit,
            quarantined=position.quarantined,
            returned=position.returned,
            updated_at=position.updated_at,
        )


async def _positions(
    info: strawberry.Info, sku: str, warehouse_id: str | None
) -> list[InventoryPosition]:
    positions = await or_raise(context_of(info).services.inventory.positions(sku, warehouse_id))
    return [InventoryPosition.of(p) for p in positions]


@strawberry.federation.type(keys=["sku"])
class Item:
    sku: strawberry.ID

    @strawberry.field(description="Where the item is stocked, bin by bin.")
    async def stock(
        self, info: strawberry.Info, warehouse_id: str | None = None
    ) -> list[InventoryPosition]:
        return await _positions(info, str(self.sku), warehouse_id)

    @strawberry.field(description="Available to promise over all bins (or one warehouse's).")
    async def available_to_promise(
        self, info: strawberry.Info, warehouse_id: str | None = None
    ) -> Decimal:
        positions = await _positions(info, str(self.sku), warehouse_id)
        return sum((p.available_to_promise for p in positions), Decimal(0))

    @classmethod
    def resolve_reference(cls, sku: strawberry.ID) -> Item:
        return cls(sku=sku)


@strawberry.type
class Query:
    @strawberry.field(description="Stock positions of a SKU, optionally in one warehouse.")
    async def inventory(
        self, info: strawberry.Info, sku: str, warehouse_id: str | None = None
    ) -> list[InventoryPosition]:
        return await _positions(info, sku, warehouse_id)


schema = strawberry.federation.Schema(query=Query, types=[Item], extensions=[error_mask])
