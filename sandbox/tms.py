"""The reference TMS: rate shopping, tendering to a carrier, bookings and labels.

It owns bookings and the tracking numbers handed to carriers; quotes expire, tenders are
idempotent, LTL tenders wait for the carrier's acceptance (TENDERED, then BOOKED).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.lifecycles import BY_CARRIER
from sandbox.runner import run
from sandbox.seed import Shipment, World, money
from sandbox.service import (
    ApiError,
    Backend,
    guard,
    iso_utc,
    json_object,
    not_found,
    utc_now,
    validation_error,
)

API_KEY = "tms-demo-key"
QUOTE_TTL = timedelta(minutes=15)
# carrier, service, base amount, per kg, transit days (domestic, international), US only
SERVICES = (
    ("SWFT", "EXPRESS", Decimal("9.95"), Decimal("0.85"), (1, 2), False),
    ("SWFT", "STANDARD", Decimal("6.95"), Decimal("0.45"), (2, 4), False),
    ("RDLN", "LTL", Decimal("85.00"), Decimal("0.18"), (3, 3), True),
    ("HRTG", "LTL_STANDARD", Decimal("79.00"), Decimal("0.21"), (4, 4), True),
)


def _booking_document(shipment: Shipment) -> dict[str, Any]:
    return {
        "booking_id": shipment.booking_id,
        "order_ref": shipment.order_ref,
        "carrier": shipment.carrier,
        "service": shipment.service,
        "tracking_number": shipment.tracking_number,
        "status": shipment.booking_status,
        "parcels": list(shipment.parcels),
        "amount": str(shipment.amount),
        "currency": shipment.currency,
        "created_at": iso_utc(shipment.created_at),
    }


def _label(booking: dict[str, Any]) -> str:
    return (
        "^XA^CI28"
        f"^FO40,40^A0N,48,48^FD{booking['carrier']} {booking['service']}^FS"
        f"^FO40,110^A0N,32,32^FDOrder {booking['order_ref']}  Booking {booking['booking_id']}^FS"
        f"^FO40,170^BCN,120,Y,N,N^FD{booking['tracking_number']}^FS"
        f"^FO40,340^A0N,28,28^FDParcels {len(booking['parcels'])}^FS"
        "^XZ"
    )


class TmsBackend(Backend):
    name = "tms"
    default_port = 8103
    indexed_fields = ("order_ref", "tracking_number", "status")
    credential_headers = ("x-api-key",)

    def load(self, world: World) -> None:
        self.store.insert_many(
            "bookings", ((s.booking_id, _booking_document(s)) for s in world.shipments)
        )
        self.store.set_meta("booking", str(300000 + len(world.shipments)))

    def routes(self) -> list[BaseRoute]:
        guarded = guard(lambda request: request.headers.get("x-api-key") == API_KEY)
        return [
            Route("/rates", guarded(self.rates), methods=["POST"]),
            Route("/tenders", guarded(self.tender), methods=["POST"]),
            Route("/bookings", guarded(self.list_bookings), methods=["GET"]),
            Route("/bookings/{booking_id}", guarded(self.get_booking), methods=["GET"]),
            Route("/bookings/{booking_id}/label", guarded(self.label), methods=["GET"]),
        ]

    async def rates(self, request: Request) -> Response:
        body = await json_object(request)
        details: list[dict[str, str]] = []
        for end in ("origin", "destination"):
            place = body.get(end)
            if not isinstance(place, dict):
                details.append({"field": end, "message": "required object"})
                continue
            for part in ("country", "postal_code"):
                if not isinstance(place.get(part), str) or not place[part]:
                    details.append({"field": f"{end}.{part}", "message": "required"})
        parcels = body.get("parcels")
        if not isinstance(parcels, list) or not parcels:
            details.append({"field": "parcels", "message": "must be a non-empty list"})
            parcels = []
        for index, parcel in enumerate(parcels):
            for part in ("weight_kg", "length_cm", "width_cm", "height_cm"):
                value = parcel.get(part) if isinstance(parcel, dict) else None
                if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                    details.append({"field": f"parcels[{index}].{part}", "message": "must be > 0"})
        if details:
            raise validation_error(details)
        origin, destination = body["origin"]["country"], body["destination"]["country"]
        domestic = origin == destination
        weight = sum((Decimal(str(p["weight_kg"])) for p in parcels), Decimal(0))
        currency = "USD" if origin == "US" else "EUR"
        now = utc_now()
        quotes = []
        with self.store.transaction():
            for carrier, service, base, per_kg, transit, us_only in SERVICES:
                if us_only and not (origin == destination == "US"):
                    continue
                quote = {
                    "quote_id": f"Q-{uuid.uuid4().hex[:16]}",
                    "carrier": carrier,
                    "service": service,
                    "amount": str(money(base + per_kg * weight)),
                    "currency": currency,
                    "transit_days": transit[0] if domestic else transit[1],
                    "expires_at": iso_utc(now + QUOTE_TTL),
                }
                self.store.put("quotes", quote["quote_id"], quote | {"parcels": parcels})
                quotes.append(quote)
        return JSONResponse({"quotes": quotes})

    async def tender(self, request: Request) -> Response:
        body = await json_object(request)
        return self.idempotent(request, lambda: (201, self._tender(body)))

    def _tender(self, body: dict[str, Any]) -> dict[str, Any]:
        details = [
            {"field": field, "message": "required"}
            for field in ("quote_id", "order_ref")
            if not isinstance(body.get(field), str) or not body[field]
        ]
        if details:
            raise validation_error(details)
        quote = self.store.get("quotes", body["quote_id"])
        if quote is None:
            raise ApiError(422, "unknown_quote", f"no quote {body['quote_id']}")
        now = utc_now()
        if datetime.fromisoformat(quote["expires_at"].replace("Z", "+00:00")) <= now:
            raise ApiError(422, "quote_expired", f"quote expired at {quote['expires_at']}")
        if quote.get("booking_id"):
            raise ApiError(409, "conflict", f"quote already tendered as {quote['booking_id']}")
        lifecycle = BY_CARRIER[quote["carrier"]]
        digits = lifecycle.tracking_digits
        booking = {
            "booking_id": f"BK-{self.store.next_number('booking', 300001)}",
            "order_ref": body["order_ref"],
            "carrier": quote["carrier"],
            "service": quote["service"],
            "tracking_number": lifecycle.tracking_prefix
            + str(uuid.uuid4().int)[-digits:].zfill(digits),
            "status": "BOOKED" if quote["carrier"] == "SWFT" else "TENDERED",
            "parcels": quote["parcels"],
            "amount": quote["amount"],
            "currency": quote["currency"],
            "created_at": iso_utc(now),
        }
        self.store.put("bookings", booking["booking_id"], booking)
        self.store.put("quotes", quote["quote_id"], quote | {"booking_id": booking["booking_id"]})
        return booking

    async def list_bookings(self, request: Request) -> Response:
        filters = ("order_ref", "tracking_number", "status")
        bookings, cursor = self.listing(
            request, "bookings", filters, token_param="cursor", limits=(100, 500)
        )
        return JSONResponse({"bookings": bookings, "cursor": cursor})

    def _booking(self, booking_id: str) -> dict[str, Any]:
        booking = self.store.get("bookings", booking_id)
        if booking is None:
            raise not_found("booking")
        return booking

    async def get_booking(self, request: Request) -> Response:
        return JSONResponse(self._booking(request.path_params["booking_id"]))

    async def label(self, request: Request) -> Response:
        booking = self._booking(request.path_params["booking_id"])
        if booking["status"] == "CANCELLED":
            raise ApiError(409, "conflict", "booking cancelled")
        return JSONResponse({"format": "ZPL", "label": _label(booking)})

    async def advance(self, reference: str, steps: int) -> list[dict[str, Any]]:
        """The carrier accepts a tender: TENDERED becomes BOOKED."""
        booking = self.store.get("bookings", reference)
        if booking is None:
            found = self.store.find("bookings", order_ref=reference) or self.store.find(
                "bookings", tracking_number=reference
            )
            if not found:
                raise not_found(f"booking {reference}")
            booking = found[-1]
        if booking["status"] != "TENDERED":
            return []
        booking = booking | {"status": "BOOKED"}
        self.store.put("bookings", booking["booking_id"], booking)
        return [{"booking_id": booking["booking_id"], "status": "BOOKED"}]

    async def simulate_step(self) -> None:
        tendered = self.store.page("bookings", limit=20, where={"status": "TENDERED"})[0]
        for booking in tendered[: self.simulate_batch]:
            await self.advance(booking["booking_id"], 1)


def main(argv: list[str] | None = None) -> None:
    """`python -m sandbox.tms`."""
    run(TmsBackend, argv)


if __name__ == "__main__":
    main()
