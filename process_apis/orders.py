"""Order reads for one tenant: orders from the orders read model, the rest from the ERP.

Orders come from the read model the ERP's change log fills (`process_apis.projections_orders`),
so the portal's order pages answer while the ERP is in its maintenance window; customers,
items and invoices are still asked of the ERP (their system of record) when read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from domain.billing import Invoice
from domain.items import Item
from domain.orders import Order
from domain.parties import Customer
from process_apis.freshness import Freshness, SourceFreshness
from process_apis.ownership import OrderOwnership
from process_apis.visibility import NotFound, require_visible
from stores.orders import OrderKey, OrderStore
from system_apis.erp.client import ErpClient
from system_apis.errors import BackendNotFound
from system_apis.paging import Page

ERP = "erp"
"""The source of every order answer: the ERP owns orders."""


class InvalidPageToken(ValueError):
    """A page token the orders listing did not issue (the caller's error)."""


@dataclass(frozen=True, slots=True)
class KnownOrder:
    """An order as the read model holds it, and how current the ERP's word on it is."""

    order: Order
    freshness: Freshness


@dataclass(frozen=True, slots=True)
class OrderQueries:
    erp: ErpClient
    owners: OrderOwnership
    orders_read_model: OrderStore
    freshness: SourceFreshness

    async def order(self, tenant_id: str, order_id: str) -> KnownOrder:
        stored = await self.orders_read_model.by_id(order_id)
        if stored is None:
            raise NotFound("order", order_id)
        require_visible(stored.order.customer_id, tenant_id, "order", order_id)
        return KnownOrder(stored.order, await self.freshness.of(ERP))

    async def orders(self, tenant_id: str, *, first: int, after: str | None) -> Page[KnownOrder]:
        """The tenant's orders newest first (by order date, then number); keyset paging keeps
        pages stable while new orders arrive (they come before the first page, never into a
        later one). `after` is a `next_token` this listing issued; raises `InvalidPageToken`
        for anything else."""
        try:
            key = OrderKey.from_token(after) if after is not None else None
        except ValueError:
            raise InvalidPageToken("not a page token of the orders listing") from None
        page = await self.orders_read_model.page(tenant_id, first=first, after=key)
        orders = tuple(stored.order for stored in page.orders)
        await self.owners.remember(orders)
        freshness = await self.freshness.of(ERP)
        return Page(
            items=tuple(KnownOrder(order, freshness) for order in orders),
            next_token=page.next_key.token() if page.next_key else None,
        )

    async def customer(self, tenant_id: str) -> Customer:
        try:
            return await self.erp.customer(tenant_id)
        except BackendNotFound:
            raise NotFound("customer", tenant_id) from None

    async def invoices_of_orders(
        self, tenant_id: str, order_ids: Sequence[str]
    ) -> Mapping[str, tuple[Invoice, ...] | None]:
        """The invoices of each order, for a page of orders in one ownership lookup and one ERP
        listing (checked first: invoices name no tenant alone); None for an order the tenant
        does not own, or that does not exist."""
        owners = await self.owners.owners_of(order_ids)
        visible = [order_id for order_id in order_ids if owners.get(order_id) == tenant_id]
        found: dict[str, list[Invoice]] = {order_id: [] for order_id in visible}
        for invoice in await self.erp.invoices_for_orders(visible):
            if invoice.customer_id == tenant_id and invoice.order_id in found:
                found[invoice.order_id].append(invoice)
        return {
            order_id: tuple(found[order_id]) if order_id in found else None
            for order_id in order_ids
        }

    async def item(self, sku: str) -> Item:
        """The item master's entry; items are not tenant data, every customer may read them."""
        try:
            return await self.erp.item(sku)
        except BackendNotFound:
            raise NotFound("item", sku) from None

    async def invoice(self, tenant_id: str, invoice_id: str) -> Invoice:
        try:
            invoice = await self.erp.invoice(invoice_id)
        except BackendNotFound:
            raise NotFound("invoice", invoice_id) from None
        require_visible(invoice.customer_id, tenant_id, "invoice", invoice_id)
        return invoice
