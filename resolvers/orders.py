"""The orders subgraph: orders and their lines (from the orders read model, which follows the
ERP's changes) and the calling customer (asked of the ERP)."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from domain.orders import OrderStatus as DomainOrderStatus
from policies.cursors import InvalidCursor
from process_apis.cache_tags import order_tag, orders_of_tenant_tag
from process_apis.orders import InvalidPageToken, KnownOrder
from resolvers import access
from resolvers.audiences import PARTNER
from resolvers.cache_control import FRESHNESS, INHERIT, CacheControl, announce
from resolvers.context import context_of
from resolvers.cost import ORDER_LINES, page_of
from resolvers.errors import invalid_cursor
from resolvers.guard import or_none, or_raise
from resolvers.schema import SubgraphSchema
from resolvers.values import Address, Money, Quantity, identifier, page_size

OrderStatus = strawberry.enum(DomainOrderStatus, name="OrderStatus")

MAX_PAGE = 100
ORDERS_LISTING = "orders"


@strawberry.federation.type(
    keys=["sku"],
    description="An item of the ERP's item master.",
    directives=[CacheControl(max_age=300)],
)
class Item:
    sku: strawberry.ID = strawberry.field(directives=[PARTNER])

    @strawberry.field(directives=[PARTNER])
    async def description(self, info: strawberry.Info) -> str | None:
        sku = identifier(self.sku, "sku")
        item = await or_none(context_of(info).services.orders.item(sku))
        return item.description if item else None

    @classmethod
    def resolve_reference(cls, sku: strawberry.ID) -> Item:
        return cls(sku=sku)


@strawberry.type(directives=[INHERIT, PARTNER])
class OrderLine:
    line_number: int
    quantity: Quantity
    unit_price: Money
    warehouse_id: str
    item: Item


@strawberry.federation.type(
    keys=["id"],
    policy=access.TENANT_MEMBER,
    description="A sales order; the ERP is its record.",
    directives=[CacheControl(max_age=30)],
)
class Order:
    """Tagged field by field: the returns, shipments and billing subgraphs add to it."""

    id: strawberry.ID = strawberry.field(directives=[PARTNER])
    customer_id: str = strawberry.field(directives=[PARTNER])
    status: OrderStatus = strawberry.field(directives=[PARTNER])
    ordered_on: date = strawberry.field(directives=[PARTNER])
    requested_delivery_on: date | None = strawberry.field(directives=[PARTNER])
    currency: str = strawberry.field(directives=[PARTNER])
    ship_to: Address = strawberry.field(directives=[PARTNER])
    lines: list[OrderLine] = strawberry.federation.field(directives=[ORDER_LINES, PARTNER])
    changed_at: datetime | None = strawberry.field(directives=[PARTNER])
    as_of: datetime | None = strawberry.field(
        description="When the ERP was last heard from, which this answer is as current as; "
        "null until it has been heard from.",
        directives=[FRESHNESS, PARTNER],
    )
    stale: bool = strawberry.field(
        description="True when the ERP has not been heard from within its configured window: "
        "the order is answered from what the gateway last heard, which may have changed since.",
        directives=[FRESHNESS, PARTNER],
    )

    @classmethod
    def of(cls, known: KnownOrder) -> Order:
        order = known.order
        announce(order_tag(order.order_id))
        return cls(
            id=strawberry.ID(order.order_id),
            customer_id=order.customer_id,
            status=order.status,
            ordered_on=order.ordered_on,
            requested_delivery_on=order.requested_delivery_on,
            currency=order.currency,
            ship_to=Address.of(order.ship_to),
            lines=[
                OrderLine(
                    line_number=line.line_number,
                    quantity=Quantity.of(line.quantity),
                    unit_price=Money.of(line.unit_price),
                    warehouse_id=line.warehouse_id,
                    item=Item(sku=strawberry.ID(line.sku)),
                )
                for line in order.lines
            ],
            changed_at=order.changed_at,
            as_of=known.freshness.as_of,
            stale=known.freshness.stale,
        )

    @classmethod
    async def resolve_reference(cls, info: strawberry.Info, id: strawberry.ID) -> Order | None:
        return await _order(info, str(id))


async def _order(info: strawberry.Info, order_id: str) -> Order | None:
    order_id = identifier(order_id, "id")
    context = context_of(info)
    order = await or_none(context.services.orders.order(context.principal.tenant_id, order_id))
    return Order.of(order) if order else None


@strawberry.type(directives=[CacheControl(max_age=30), PARTNER])
class OrderPage:
    orders: list[Order]
    next_cursor: str | None


@strawberry.federation.type(
    keys=["id"], policy=access.TENANT_MEMBER, directives=[CacheControl(max_age=300), PARTNER]
)
class Customer:
    id: strawberry.ID
    name: str
    country: str
    currency: str


@strawberry.type
class Query:
    @strawberry.federation.field(
        requires_scopes=access.READ,
        description="An order of the calling customer; null when there is none.",
        directives=[PARTNER],
    )
    async def order(self, info: strawberry.Info, id: strawberry.ID) -> Order | None:
        return await _order(info, str(id))

    @strawberry.federation.field(
        requires_scopes=access.READ,
        description="The calling customer's orders, newest first, page by page.",
        directives=[page_of("orders"), PARTNER],
    )
    async def orders(
        self, info: strawberry.Info, first: int = 20, after: str | None = None
    ) -> OrderPage | None:
        context = context_of(info)
        tenant_id = context.principal.tenant_id
        size = page_size(first, MAX_PAGE)
        try:
            backend_cursor = context.cursors.open(ORDERS_LISTING, tenant_id, after)
        except InvalidCursor:
            raise invalid_cursor("after") from None
        try:
            page = await or_raise(
                context.services.orders.orders(tenant_id, first=size, after=backend_cursor)
            )
        except InvalidPageToken:
            raise invalid_cursor("after") from None
        announce(orders_of_tenant_tag(tenant_id))
        return OrderPage(
            orders=[Order.of(o) for o in page.items],
            next_cursor=context.cursors.issue(ORDERS_LISTING, tenant_id, page.next_token),
        )

    @strawberry.federation.field(
        requires_scopes=access.READ,
        description="The customer account the caller acts for.",
        directives=[PARTNER],
    )
    async def me(self, info: strawberry.Info) -> Customer | None:
        context = context_of(info)
        customer = await or_none(context.services.orders.customer(context.principal.tenant_id))
        if customer is None:
            return None
        return Customer(
            id=strawberry.ID(customer.customer_id),
            name=customer.name,
            country=customer.country,
            currency=customer.currency,
        )


schema = SubgraphSchema(query=Query, types=[Item])
