"""TMS records around the canonical `Shipment`: quotes, the booking's own status, labels."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain.shipments import Shipment
from domain.units import Money


class BookingStatus(StrEnum):
    TENDERED = "TENDERED"
    BOOKED = "BOOKED"
    CANCELLED = "CANCELLED"


@dataclass(frozen=True, slots=True)
class RateQuote:
    quote_id: str
    carrier: str
    service: str
    amount: Money
    transit_days: int
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class Booking:
    """A TMS booking: the canonical shipment (no milestones: carriers own those) plus what only
    the TMS knows, its booking status and agreed charge.

    The TMS does not know the ordering customer, so `shipment.customer_id` is empty until the
    caller fills it from the ERP order (`dataclasses.replace`).
    """

    shipment: Shipment
    status: BookingStatus
    charge: Money
    created_at: datetime | None


@dataclass(frozen=True, slots=True)
class ShippingLabel:
    booking_id: str
    label_format: str
    content: str
