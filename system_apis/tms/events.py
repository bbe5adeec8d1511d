"""TMS bookings as events for the backbone: `shipment.booked`, one per booking.

The event id is the booking's own (`TMS:booking:<id>`), so reading the same booking again (a
poller re-reading its last page, or two processes after a lease hand-over) is deduplicated by
the event log.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from domain.events import EventEnvelope, SourceSystem
from domain.shipments import Package
from system_apis.tms.models import Booking

BOOKED_EVENT_TYPE = "shipment.booked"


def booking_event_id(booking_id: str) -> str:
    return f"TMS:booking:{booking_id}"


def package_record(package: Package) -> dict[str, Any]:
    """A JSON-ready package (weights as decimal text, never floats)."""
    return {
        "package_id": package.package_id,
        "weight_kg": str(package.weight.in_kilograms()),
        "length_cm": package.length_cm,
        "width_cm": package.width_cm,
        "height_cm": package.height_cm,
    }


def booked_envelope(
    booking: Booking,
    *,
    tenant_id: str | None,
    received_at: datetime,
    correlation_id: str,
) -> EventEnvelope:
    """The booking as a `shipment.booked` event; the aggregate is the tracking number."""
    shipment = booking.shipment
    payload: Mapping[str, Any] = {
        "booking_id": shipment.shipment_id,
        "order_id": shipment.order_id,
        "carrier": shipment.carrier,
        "service": shipment.service,
        "tracking_number": shipment.tracking_number,
        "status": booking.status.value,
        "packages": [package_record(package) for package in shipment.packages],
    }
    return EventEnvelope(
        event_id=booking_event_id(shipment.shipment_id),
        event_type=BOOKED_EVENT_TYPE,
        source=SourceSystem.TMS,
        source_name="TMS",
        aggregate_type="Shipment",
        aggregate_id=shipment.tracking_number,
        occurred_at=booking.created_at or received_at,
        received_at=received_at,
        correlation_id=correlation_id,
        tenant_id=tenant_id,
        payload=payload,
    )
