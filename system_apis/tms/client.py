"""The TMS's REST API as canonical operations: rate, tender, bookings, labels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import httpx

from domain.parties import Address
from domain.shipments import Package
from system_apis.api import BackendApi
from system_apis.errors import BackendNotFound
from system_apis.paging import Page, iterate_pages, page_of, records_of
from system_apis.resilience.client import BackendClient
from system_apis.settings import BackendSettings
from system_apis.telemetry import NO_BACKEND_TELEMETRY, BackendTelemetry
from system_apis.tms.mapping import (
    booking_from_tms,
    label_from_tms,
    quote_from_tms,
    rate_request_to_tms,
    tender_request_to_tms,
)
from system_apis.tms.models import Booking, RateQuote, ShippingLabel
from system_apis.urls import segment

T = TypeVar("T")


class TmsClient(BackendApi):
    """Quotes, tenders and reads bookings; a booking is a canonical shipment without milestones."""

    @classmethod
    def from_settings(
        cls,
        settings: BackendSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        telemetry: BackendTelemetry = NO_BACKEND_TELEMETRY,
    ) -> TmsClient:
        return cls(
            BackendClient(
                settings,
                headers={"X-Api-Key": settings.credential},
                transport=transport,
                telemetry=telemetry,
            )
        )

    async def rates(
        self,
        origin: Address,
        destination: Address,
        packages: Sequence[Package],
        *,
        correlation_id: str | None = None,
    ) -> tuple[RateQuote, ...]:
        """Quotes from every carrier; a POST without side effects, so it is retried like a read."""
        operation = "rate shipment"
        answer = await self._backend.send_json(
            "POST",
            "/rates",
            operation=operation,
            json=rate_request_to_tms(origin, destination, packages),
            correlation_id=correlation_id,
            retry_safe=True,
        )
        return self._map(operation, _quotes, answer)

    async def tender(
        self,
        quote_id: str,
        order_id: str,
        *,
        idempotency_key: str,
        correlation_id: str | None = None,
    ) -> Booking:
        """Book the quoted carrier; an expired or unknown quote is a `BackendRejected` (422)."""
        operation = "tender shipment"
        answer = await self._backend.send_json(
            "POST",
            "/tenders",
            operation=operation,
            json=tender_request_to_tms(quote_id, order_id),
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
        )
        return self._map(operation, booking_from_tms, answer)

    async def booking(self, booking_id: str, *, correlation_id: str | None = None) -> Booking:
        operation = "get booking"
        answer = await self._backend.get_json(
            f"/bookings/{segment(booking_id)}", operation=operation, correlation_id=correlation_id
        )
        return self._map(operation, booking_from_tms, answer)

    async def bookings_page(
        self,
        *,
        order_id: str | None = None,
        order_ids: Sequence[str] = (),
        tracking_number: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
        correlation_id: str | None = None,
    ) -> Page[Booking]:
        """One page of bookings, of one order or of any of `order_ids`."""
        operation = "list bookings"
        answer = await self._backend.get_json(
            "/bookings",
            operation=operation,
            params={
                "order_ref": [order_id] if order_id else list(order_ids) or None,
                "tracking_number": tracking_number,
                "cursor": cursor,
                "limit": limit,
            },
            correlation_id=correlation_id,
        )
        return self._map(operation, _bookings_page, answer)

    async def bookings_for_order(
        self, order_id: str, *, correlation_id: str | None = None
    ) -> tuple[Booking, ...]:
        """Every booking of the order, cancelled ones included (see `Booking.status`)."""
        pages = iterate_pages(
            lambda cursor: self.bookings_page(
                order_id=order_id, cursor=cursor, correlation_id=correlation_id
            )
        )
        return tuple([booking async for booking in pages])

    async def bookings_for_orders(
        self, order_ids: Sequence[str], *, correlation_id: str | None = None
    ) -> tuple[Booking, ...]:
        """Every booking of any of the orders, in one listing rather than a call per order."""
        if not order_ids:
            return ()
        pages = iterate_pages(
            lambda cursor: self.bookings_page(
                order_ids=order_ids, cursor=cursor, limit=500, correlation_id=correlation_id
            )
        )
        return tuple([booking async for booking in pages])

    async def booking_by_tracking_number(
        self, tracking_number: str, *, correlation_id: str | None = None
    ) -> Booking:
        """The booking behind a tracking number; `BackendNotFound` when the TMS has none."""
        page = await self.bookings_page(
            tracking_number=tracking_number, limit=1, correlation_id=correlation_id
        )
        if not page.items:
            raise BackendNotFound(
                self._backend.settings.name,
                "find booking",
                status_code=404,
                reason="not_found",
                message=f"no booking with tracking number {tracking_number}",
            )
        return page.items[0]

    async def label(self, booking_id: str, *, correlation_id: str | None = None) -> ShippingLabel:
        operation = "get label"
        answer = await self._backend.get_json(
            f"/bookings/{segment(booking_id)}/label",
            operation=operation,
            correlation_id=correlation_id,
        )
        return self._map(operation, lambda data: label_from_tms(data, booking_id), answer)


def _quotes(answer: Any) -> tuple[RateQuote, ...]:
    return records_of(answer, "quotes", quote_from_tms)


def _bookings_page(answer: Any) -> Page[Booking]:
    return page_of(answer, "bookings", "cursor", booking_from_tms)
