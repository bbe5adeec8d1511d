"""TMS records to and from the canonical model; plain functions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP
from typing import Any

from domain.parties import Address
from domain.shipments import Package, Shipment
from domain.units import Money, Weight, WeightUnit
from system_apis import fields
from system_apis.errors import MalformedPayload
from system_apis.tms.models import Booking, BookingStatus, RateQuote, ShippingLabel

BOOKING_STATUS: Mapping[str, BookingStatus] = {status.value: status for status in BookingStatus}


def rate_request_to_tms(
    origin: Address, destination: Address, packages: Sequence[Package]
) -> dict[str, Any]:
    """Only country and postal code matter for a rate; weights go in kilograms."""
    return {
        "origin": {"country": origin.country, "postal_code": origin.postal_code},
        "destination": {"country": destination.country, "postal_code": destination.postal_code},
        "parcels": [_parcel_to_tms(package) for package in packages],
    }


def tender_request_to_tms(quote_id: str, order_id: str) -> dict[str, Any]:
    return {"quote_id": quote_id, "order_ref": order_id}


def quote_from_tms(record: Any, where: str = "quote") -> RateQuote:
    data = fields.as_object(record, where)
    return RateQuote(
        quote_id=fields.text(data, "quote_id", where),
        carrier=fields.text(data, "carrier", where),
        service=fields.text(data, "service", where),
        amount=Money(
            fields.decimal(data, "amount", where), fields.currency(data, "currency", where)
        ),
        transit_days=fields.integer(data, "transit_days", where),
        expires_at=fields.optional_aware_datetime(data, "expires_at", where),
    )


def booking_from_tms(record: Any, where: str = "booking") -> Booking:
    data = fields.as_object(record, where)
    booking_id = fields.text(data, "booking_id", where)
    parcels = fields.as_list(data.get("parcels") or [], f"{where}.parcels")
    shipment = Shipment(
        shipment_id=booking_id,
        order_id=fields.text(data, "order_ref", where),
        customer_id="",
        carrier=fields.text(data, "carrier", where),
        service=fields.optional_text(data, "service", where) or "",
        tracking_number=fields.optional_text(data, "tracking_number", where) or "",
        packages=tuple(
            package_from_tms(parcel, f"{booking_id}-{index + 1}", f"{where}.parcels[{index}]")
            for index, parcel in enumerate(parcels)
        ),
    )
    return Booking(
        shipment=shipment,
        status=fields.choice(data, "status", where, BOOKING_STATUS),
        charge=Money(
            fields.decimal(data, "amount", where), fields.currency(data, "currency", where)
        ),
        created_at=fields.optional_aware_datetime(data, "created_at", where),
    )


def package_from_tms(record: Any, package_id: str, where: str = "parcel") -> Package:
    data = fields.as_object(record, where)
    return Package(
        package_id=package_id,
        weight=Weight(fields.decimal(data, "weight_kg", where), WeightUnit.KILOGRAM),
        length_cm=_centimetres(data, "length_cm", where),
        width_cm=_centimetres(data, "width_cm", where),
        height_cm=_centimetres(data, "height_cm", where),
    )


def label_from_tms(record: Any, booking_id: str, where: str = "label") -> ShippingLabel:
    data = fields.as_object(record, where)
    return ShippingLabel(
        booking_id=booking_id,
        label_format=fields.text(data, "format", where),
        content=fields.text(data, "label", where),
    )


def _parcel_to_tms(package: Package) -> dict[str, Any]:
    parcel: dict[str, Any] = {"weight_kg": float(package.weight.in_kilograms())}
    for key in ("length_cm", "width_cm", "height_cm"):
        value = getattr(package, key)
        if value is not None:
            parcel[key] = value
    return parcel


def _centimetres(data: Mapping[str, Any], key: str, where: str) -> int | None:
    if data.get(key) is None:
        return None
    value = fields.decimal(data, key, where)
    if value < 0:
        raise MalformedPayload(f"{where}.{key}: a length cannot be negative, got {value}")
    return int(value.to_integral_value(rounding=ROUND_HALF_UP))
