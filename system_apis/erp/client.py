"""The ERP's REST API as canonical operations: orders, customers, items, invoices."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, TypeVar

import httpx

from domain.billing import FreightCharge, Invoice
from domain.items import Item
from domain.orders import Order, OrderStatus
from domain.parties import Customer
from domain.returns import ReturnAuthorization, ReturnRequest
from system_apis.api import BackendApi
from system_apis.erp.changes import OrderChangeBatch, order_changes_from_erp
from system_apis.erp.fulfilment import (
    BookStock,
    CreditNote,
    StockReservation,
    book_stock_from_erp,
    credit_note_from_erp,
    freight_charge_from_erp,
    goods_issue_to_erp,
    reservation_from_erp,
)
from system_apis.erp.mapping import (
    customer_from_erp,
    invoice_from_erp,
    invoice_request_to_erp,
    item_from_erp,
    order_from_erp,
    order_status_to_erp,
)
from system_apis.erp.returns import return_from_erp, return_refusal, return_request_to_erp
from system_apis.errors import BackendRejected
from system_apis.paging import Page, iterate_pages, page_of
from system_apis.resilience.client import BackendClient
from system_apis.settings import BackendSettings
from system_apis.telemetry import NO_BACKEND_TELEMETRY, BackendTelemetry
from system_apis.urls import segment

API = "/api/v1"
T = TypeVar("T")


class ErpClient(BackendApi):
    """Reads the ERP's orders, customers, items and invoices; creates invoices idempotently."""

    @classmethod
    def from_settings(
        cls,
        settings: BackendSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        telemetry: BackendTelemetry = NO_BACKEND_TELEMETRY,
    ) -> ErpClient:
        return cls(
            BackendClient(
                settings,
                headers={"X-ERP-Key": settings.credential},
                transport=transport,
                telemetry=telemetry,
            )
        )

    async def orders_page(
        self,
        customer_id: str | None,
        *,
        status: OrderStatus | None = None,
        order_ids: Sequence[str] = (),
        newest_first: bool = False,
        page_token: str | None = None,
        limit: int = 50,
        correlation_id: str | None = None,
    ) -> Page[Order]:
        """One page of orders, of a customer (None: any) and among `order_ids` when given."""
        operation = "list orders"
        answer = await self._backend.get_json(
            f"{API}/sales-orders",
            operation=operation,
            params={
                "sold_to": customer_id,
                "status": order_status_to_erp(status) if status else None,
                "doc_no": list(order_ids) or None,
                "sort": "desc" if newest_first else None,
                "page_token": page_token,
                "limit": limit,
            },
            correlation_id=correlation_id,
        )
        return self._map(operation, lambda data: _records_page(data, order_from_erp), answer)

    def orders(
        self,
        customer_id: str,
        *,
        status: OrderStatus | None = None,
        page_size: int = 50,
        correlation_id: str | None = None,
    ) -> AsyncIterator[Order]:
        """Every order of the customer, fetched page by page as the caller iterates."""
        return iterate_pages(
            lambda token: self.orders_page(
                customer_id,
                status=status,
                page_token=token,
                limit=page_size,
                correlation_id=correlation_id,
            )
        )

    async def order(self, order_id: str, *, correlation_id: str | None = None) -> Order:
        operation = "get order"
        answer = await self._backend.get_json(
            f"{API}/sales-orders/{segment(order_id)}",
            operation=operation,
            correlation_id=correlation_id,
        )
        return self._map(operation, order_from_erp, answer)

    async def order_changes(
        self, after: str | None = None, *, limit: int = 200, correlation_id: str | None = None
    ) -> OrderChangeBatch:
        """One page of the change log after `after` (None: from the first change), oldest
        first; store the batch's `cursor` only after the batch is safely handled."""
        operation = "read order changes"
        answer = await self._backend.get_json(
            f"{API}/sales-order-changes",
            operation=operation,
            params={"page_token": after, "limit": limit},
            correlation_id=correlation_id,
        )
        return self._map(operation, order_changes_from_erp, answer)

    async def customers_page(
        self, *, page_token: str | None = None, limit: int = 50, correlation_id: str | None = None
    ) -> Page[Customer]:
        operation = "list customers"
        answer = await self._backend.get_json(
            f"{API}/customers",
            operation=operation,
            params={"page_token": page_token, "limit": limit},
            correlation_id=correlation_id,
        )
        return self._map(operation, lambda data: _records_page(data, customer_from_erp), answer)

    async def customer(self, customer_id: str, *, correlation_id: str | None = None) -> Customer:
        operation = "get customer"
        answer = await self._backend.get_json(
            f"{API}/customers/{segment(customer_id)}",
            operation=operation,
            correlation_id=correlation_id,
        )
        return self._map(operation, customer_from_erp, answer)

    async def item(self, sku: str, *, correlation_id: str | None = None) -> Item:
        operation = "get item"
        answer = await self._backend.get_json(
            f"{API}/materials/{segment(sku)}", operation=operation, correlation_id=correlation_id
        )
        return self._map(operation, item_from_erp, answer)

    async def items_page(
        self, *, page_token: str | None = None, limit: int = 50, correlation_id: str | None = None
    ) -> Page[Item]:
        operation = "list items"
        answer = await self._backend.get_json(
            f"{API}/materials",
            operation=operation,
            params={"page_token": page_token, "limit": limit},
            correlation_id=correlation_id,
        )
        return self._map(operation, lambda data: _records_page(data, item_from_erp), answer)

    async def invoices_page(
        self,
        order_id: str | Sequence[str],
        *,
        page_token: str | None = None,
        limit: int = 50,
        correlation_id: str | None = None,
    ) -> Page[Invoice]:
        """One page of the invoices of an order, or of any of several orders."""
        operation = "list invoices"
        orders = [order_id] if isinstance(order_id, str) else list(order_id)
        answer = await self._backend.get_json(
            f"{API}/invoices",
            operation=operation,
            params={"sales_doc": orders, "page_token": page_token, "limit": limit},
            correlation_id=correlation_id,
        )
        return self._map(operation, lambda data: _records_page(data, invoice_from_erp), answer)

    async def invoices_for_order(
        self, order_id: str, *, correlation_id: str | None = None
    ) -> tuple[Invoice, ...]:
        """Every invoice of the order (usually one; credit notes and re-bills add more)."""
        pages = iterate_pages(
            lambda token: self.invoices_page(
                order_id, page_token=token, correlation_id=correlation_id
            )
        )
        return tuple([invoice async for invoice in pages])

    async def invoices_for_orders(
        self, order_ids: Sequence[str], *, correlation_id: str | None = None
    ) -> tuple[Invoice, ...]:
        """Every invoice of any of the orders, in one listing rather than a call per order."""
        if not order_ids:
            return ()
        pages = iterate_pages(
            lambda token: self.invoices_page(
                order_ids, page_token=token, limit=200, correlation_id=correlation_id
            )
        )
        return tuple([invoice async for invoice in pages])

    async def invoice(self, invoice_id: str, *, correlation_id: str | None = None) -> Invoice:
        operation = "get invoice"
        answer = await self._backend.get_json(
            f"{API}/invoices/{segment(invoice_id)}",
            operation=operation,
            correlation_id=correlation_id,
        )
        return self._map(operation, invoice_from_erp, answer)

    async def create_invoice(
        self, order_id: str, *, idempotency_key: str, correlation_id: str | None = None
    ) -> Invoice:
        """Invoice a shipped order; the same key again returns the same invoice, never a second.

        A 409 (`BackendRejected`, reason "conflict") means the order is not shipped yet.
        """
        operation = "create invoice"
        answer = await self._backend.send_json(
            "POST",
            f"{API}/invoices",
            operation=operation,
            json=invoice_request_to_erp(order_id),
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
        )
        return self._map(operation, invoice_from_erp, answer)

    async def return_authorization(
        self, rma_id: str, *, correlation_id: str | None = None
    ) -> ReturnAuthorization:
        operation = "get return order"
        answer = await self._backend.get_json(
            f"{API}/return-orders/{segment(rma_id)}",
            operation=operation,
            correlation_id=correlation_id,
        )
        return self._map(operation, return_from_erp, answer)

    async def return_authorizations_page(
        self,
        customer_id: str | None,
        *,
        order_ids: Sequence[str] = (),
        newest_first: bool = False,
        page_token: str | None = None,
        limit: int = 50,
        correlation_id: str | None = None,
    ) -> Page[ReturnAuthorization]:
        """One page of return authorizations, of a customer (None: any), of some orders."""
        operation = "list return orders"
        answer = await self._backend.get_json(
            f"{API}/return-orders",
            operation=operation,
            params={
                "sold_to": customer_id,
                "ref_doc": list(order_ids) or None,
                "sort": "desc" if newest_first else None,
                "page_token": page_token,
                "limit": limit,
            },
            correlation_id=correlation_id,
        )
        return self._map(operation, lambda data: _records_page(data, return_from_erp), answer)

    async def returns_for_orders(
        self, order_ids: Sequence[str], *, correlation_id: str | None = None
    ) -> tuple[ReturnAuthorization, ...]:
        """Every return authorization of any of the orders, in one listing (page by page)."""
        if not order_ids:
            return ()
        pages = iterate_pages(
            lambda token: self.return_authorizations_page(
                None,
                order_ids=order_ids,
                page_token=token,
                limit=200,
                correlation_id=correlation_id,
            )
        )
        return tuple([authorization async for authorization in pages])

    async def create_return(
        self, request: ReturnRequest, *, idempotency_key: str, correlation_id: str | None = None
    ) -> ReturnAuthorization:
        """Ask the ERP to authorize a return; the same key again answers the same RMA.

        Raises `ReturnWindowClosed` or `QuantityExceedsShipped` when the ERP refuses it for
        those reasons, and `BackendNotFound` when the order is not the customer's (or none).
        """
        operation = "create return order"
        try:
            answer = await self._backend.send_json(
                "POST",
                f"{API}/return-orders",
                operation=operation,
                json=return_request_to_erp(request),
                idempotency_key=idempotency_key,
                correlation_id=correlation_id,
            )
        except BackendRejected as error:
            raise return_refusal(error) from None
        return self._map(operation, return_from_erp, answer)

    async def reserve_stock(
        self, order_id: str, *, idempotency_key: str, correlation_id: str | None = None
    ) -> StockReservation:
        """Reserve a released order's items. A 409 (`BackendRejected`) means the order is not
        released, or (reason "already_reserved") reserved under another key."""
        operation = "reserve stock"
        answer = await self._backend.send_json(
            "POST",
            f"{API}/reservations",
            operation=operation,
            json={"sales_doc": order_id},
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
        )
        return self._map(operation, reservation_from_erp, answer)

    async def release_reservation(
        self, reservation_id: str, *, idempotency_key: str, correlation_id: str | None = None
    ) -> StockReservation:
        """Give a reservation's stock back; releasing a released one changes nothing."""
        operation = "release reservation"
        answer = await self._backend.send_json(
            "POST",
            f"{API}/reservations/{segment(reservation_id)}/release",
            operation=operation,
            json={},
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
        )
        return self._map(operation, reservation_from_erp, answer)

    async def post_goods_issue(
        self,
        order_id: str,
        freight: FreightCharge,
        *,
        idempotency_key: str,
        correlation_id: str | None = None,
    ) -> Order:
        """Post the shipment of a released order with its freight charge: the order is shipped
        (and may be invoiced), its reservation consumed."""
        operation = "post goods issue"
        answer = await self._backend.send_json(
            "POST",
            f"{API}/sales-orders/{segment(order_id)}/goods-issue",
            operation=operation,
            json=goods_issue_to_erp(freight),
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
        )
        return self._map(operation, order_from_erp, answer)

    async def freight_charge(
        self, order_id: str, *, correlation_id: str | None = None
    ) -> FreightCharge:
        """The freight charge the ERP will invoice for an order; `BackendNotFound` when none."""
        operation = "get freight charge"
        answer = await self._backend.get_json(
            f"{API}/sales-orders/{segment(order_id)}/freight",
            operation=operation,
            correlation_id=correlation_id,
        )
        return self._map(operation, freight_charge_from_erp, answer)

    async def create_credit_note(
        self, rma_id: str, *, idempotency_key: str, correlation_id: str | None = None
    ) -> CreditNote:
        """Credit a received return; a 409 means not received yet, or (reason
        "already_credited") credited under another key."""
        operation = "create credit note"
        answer = await self._backend.send_json(
            "POST",
            f"{API}/credit-notes",
            operation=operation,
            json={"ref_doc": rma_id},
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
        )
        return self._map(operation, credit_note_from_erp, answer)

    async def book_stock_page(
        self, *, page_token: str | None = None, limit: int = 200, correlation_id: str | None = None
    ) -> Page[BookStock]:
        operation = "list book stock"
        answer = await self._backend.get_json(
            f"{API}/stock",
            operation=operation,
            params={"page_token": page_token, "limit": limit},
            correlation_id=correlation_id,
        )
        return self._map(operation, lambda data: _records_page(data, book_stock_from_erp), answer)

    def book_stock(self, *, correlation_id: str | None = None) -> AsyncIterator[BookStock]:
        """The ERP's book stock of every plant and material, page by page as iterated."""
        return iterate_pages(
            lambda token: self.book_stock_page(page_token=token, correlation_id=correlation_id)
        )

    async def credit_notes_for_return(
        self, rma_id: str, *, correlation_id: str | None = None
    ) -> tuple[CreditNote, ...]:
        operation = "list credit notes"
        answer = await self._backend.get_json(
            f"{API}/credit-notes",
            operation=operation,
            params={"ref_doc": rma_id},
            correlation_id=correlation_id,
        )
        page = self._map(operation, lambda data: _records_page(data, credit_note_from_erp), answer)
        return tuple(page.items)


def _records_page(answer: Any, mapper: Callable[[Any, str], T]) -> Page[T]:
    return page_of(answer, "records", "next_page_token", mapper)
