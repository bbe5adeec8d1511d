"""Order reads for one tenant, straight from the ERP (their system of record)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.billing import Invoice
from domain.items import Item
from domain.orders import Order
from domain.parties import Customer
from process_apis.ownership import OrderOwnership
from process_apis.visibility import NotFound, require_visible
from system_apis.erp.client import ErpClient
from system_apis.errors import BackendNotFound
from system_apis.paging import Page


@dataclass(frozen=True, slots=True)
class OrderQueries:
    erp: ErpClient
    owners: OrderOwnership

    async def order(self, tenant_id: str, order_id: str) -> Order:
        try:
            order = await self.erp.order(order_id)
        except BackendNotFound:
            raise NotFound("order", order_id) from None
        require_visible(order.customer_id, tenant_id, "order", order_id)
        await self.owners.remember([order])
        return order

    async def orders(self, tenant_id: str, *, first: int, after: str | None) -> Page[Order]:
        """The tenant's orders newest first; the ERP's keyset paging keeps pages stable while
        new orders arrive (they come before the first page, never into a later one)."""
        page = await self.erp.orders_page(
            tenant_id, newest_first=True, page_token=after, limit=first
        )
        await self.owners.remember(page.items)
        return page

    async def customer(self, tenant_id: str) -> Customer:
        try:
            return await self.erp.customer(tenant_id)
        except BackendNotFound:
            raise NotFound("customer", tenant_id) from None

    async def invoices(self, tenant_id: str, order_id: str) -> tuple[Invoice, ...]:
        """Invoices of an order the tenant owns (checked first: invoices name no tenant alone)."""
        owner = await self.owners.owner_of(order_id)
        require_visible(owner or "", tenant_id, "order", order_id)
        invoices = await self.erp.invoices_for_order(order_id)
        return tuple(invoice for invoice in invoices if invoice.customer_id == tenant_id)

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
