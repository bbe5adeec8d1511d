"""The inventory subgraph: stock per bin from the inventory read model (fed by the WMS through
the event log), every state named apart."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from domain.inventory import InventoryPosition as DomainPosition
from policies.cursors import InvalidCursor
from process_apis.cache_tags import item_tag
from process_apis.freshness import Freshness
from process_apis.inventory import InvalidPageToken, TooManyPositions
from resolvers import access
from resolvers.cache_control import FRESHNESS, CacheControl, announce
from resolvers.context import context_of
from resolvers.cost import STOCK_BINS, page_of
from resolvers.errors import PublicError, invalid_cursor
from resolvers.guard import or_raise
from resolvers.schema import SubgraphSchema
from resolvers.values import identifier, optional_identifier, page_size

MAX_PAGE = 500


@strawberry.type(
    description="Stock of one SKU in one bin; never a single 'quantity'.",
    directives=[CacheControl(max_age=10)],
)
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
    as_of: datetime | None = strawberry.field(
        description="When the WMS was last heard from, which this answer is as current as; "
        "null until it has been heard from.",
        directives=[FRESHNESS],
    )
    stale: bool = strawberry.field(
        description="True when the WMS has not been heard from within its configured window: "
        "the stock may have moved since.",
        directives=[FRESHNESS],
    )

    @classmethod
    def of(cls, position: DomainPosition, freshness: Freshness) -> InventoryPosition:
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
            as_of=freshness.as_of,
            stale=freshness.stale,
        )


@strawberry.type(directives=[CacheControl(max_age=10)])
class InventoryPage:
    positions: list[InventoryPosition]
    next_cursor: str | None = strawberry.field(
        description="Pass as `after` for the next page; null on the last one."
    )


async def _positions(
    info: strawberry.Info, sku: object, warehouse_id: str | None
) -> list[InventoryPosition]:
    checked = identifier(sku, "sku")
    warehouse = optional_identifier(warehouse_id, "warehouseId")
    announce(item_tag(checked))
    inventory = context_of(info).services.inventory
    try:
        positions = await or_raise(inventory.positions(checked, warehouse))
    except TooManyPositions as error:
        raise PublicError(error.public_message, "RESULT_TOO_LARGE") from None
    freshness = await inventory.stock_freshness()
    return [InventoryPosition.of(p, freshness) for p in positions]


@strawberry.federation.type(keys=["sku"])
class Item:
    sku: strawberry.ID

    @strawberry.federation.field(
        description="Where the item is stocked, bin by bin (null, with an error, "
        "when the SKU is in more bins than one answer holds).",
        directives=[STOCK_BINS],
    )
    async def stock(
        self, info: strawberry.Info, warehouse_id: str | None = None
    ) -> list[InventoryPosition] | None:
        return await _positions(info, self.sku, warehouse_id)

    @strawberry.field(
        description="Available to promise over all bins (or one warehouse's).",
        directives=[CacheControl(max_age=10)],
    )
    async def available_to_promise(
        self, info: strawberry.Info, warehouse_id: str | None = None
    ) -> Decimal | None:
        positions = await _positions(info, self.sku, warehouse_id)
        return sum((p.available_to_promise for p in positions), Decimal(0))

    @classmethod
    def resolve_reference(cls, sku: strawberry.ID) -> Item:
        return cls(sku=sku)


@strawberry.type
class Query:
    @strawberry.federation.field(
        requires_scopes=access.READ,
        description="Stock positions of a SKU, optionally in one warehouse, page by page.",
        directives=[page_of("positions")],
    )
    async def inventory(
        self,
        info: strawberry.Info,
        sku: str,
        warehouse_id: str | None = None,
        first: int = 100,
        after: str | None = None,
    ) -> InventoryPage | None:
        checked = identifier(sku, "sku")
        warehouse = optional_identifier(warehouse_id, "warehouseId")
        announce(item_tag(checked))
        size = page_size(first, MAX_PAGE)
        context = context_of(info)
        tenant_id = context.principal.tenant_id
        listing = f"inventory/{checked}/{warehouse or ''}"
        try:
            backend_cursor = context.cursors.open(listing, tenant_id, after)
        except InvalidCursor:
            raise invalid_cursor("after") from None
        try:
            page = await or_raise(
                context.services.inventory.positions_page(
                    checked, warehouse, first=size, after=backend_cursor
                )
            )
        except InvalidPageToken:
            raise invalid_cursor("after") from None
        freshness = await context.services.inventory.stock_freshness()
        return InventoryPage(
            positions=[InventoryPosition.of(p, freshness) for p in page.items],
            next_cursor=context.cursors.issue(listing, tenant_id, page.next_token),
        )


schema = SubgraphSchema(query=Query, types=[Item])
