"""TMS quotes and bookings to canonical types."""

from __future__ import annotations

from decimal import Decimal

from domain import Address, Money, Package, Weight, WeightUnit
from system_apis.tms.mapping import booking_from_tms, quote_from_tms, rate_request_to_tms
from system_apis.tms.models import BookingStatus

BOOKING = {
    "booking_id": "BK-300001", "order_ref": "SO-100042", "carrier": "SWFT",
    "service": "EXPRESS", "tracking_number": "SP0000000001", "status": "BOOKED",
    "parcels": [{"weight_kg": 2.5, "length_cm": 30, "width_cm": 20.4, "height_cm": 10}],
    "amount": "7.95", "currency": "EUR", "created_at": "2026-11-03T06:00:00Z",
}  # fmt: skip


def test_booking_becomes_a_shipment_without_milestones() -> None:
    booking = booking_from_tms(BOOKING)
    shipment = booking.shipment
    assert (shipment.shipment_id, shipment.order_id, shipment.carrier) == (
        "BK-300001",
        "SO-100042",
        "SWFT",
    )
    assert shipment.tracking_number == "SP0000000001" and shipment.milestones == ()
    assert shipment.customer_id == ""
    package = shipment.packages[0]
    assert package.package_id == "BK-300001-1"
    assert package.weight == Weight(Decimal("2.5"), WeightUnit.KILOGRAM)
    assert (package.length_cm, package.width_cm, package.height_cm) == (30, 20, 10)
    assert booking.status is BookingStatus.BOOKED
    assert booking.charge == Money(Decimal("7.95"), "EUR")


def test_quote_maps_amount_and_transit_days() -> None:
    quote = quote_from_tms(
        {"quote_id": "Q-1", "carrier": "RDLN", "service": "LTL", "amount": "120.00",
         "currency": "USD", "transit_days": 3, "expires_at": "2026-11-20T15:00:00Z"}
    )  # fmt: skip
    assert quote.amount == Money(Decimal("120.00"), "USD") and quote.transit_days == 3


def test_rate_request_sends_weights_in_kilograms() -> None:
    place = Address("n", "s", "Chicago", "60601", "US")
    package = Package("p1", Weight(Decimal(10), WeightUnit.POUND), 30, 20, 10)
    body = rate_request_to_tms(place, place, [package])
    assert body["origin"] == {"country": "US", "postal_code": "60601"}
    assert body["parcels"] == [
        {"weight_kg": 4.536, "length_cm": 30, "width_cm": 20, "height_cm": 10}
    ]
