"""Sales orders and their lines, as the ERP (their system of record) defines them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from domain.parties import Address
from domain.units import Money, Quantity


class OrderStatus(StrEnum):
    OPEN = "OPEN"
    RELEASED = "RELEASED"
    PARTIALLY_SHIPPED = "PARTIALLY_SHIPPED"
    SHIPPED = "SHIPPED"
    INVOICED = "INVOICED"
    CANCELLED = "CANCELLED"


@dataclass(frozen=True, slots=True)
class OrderLine:
    line_number: int
    sku: str
    quantity: Quantity
    unit_price: Money
    warehouse_id: str


@dataclass(frozen=True, slots=True)
class Order:
    order_id: str
    customer_id: str
    status: OrderStatus
    ship_to: Address
    ordered_on: date
    requested_delivery_on: date | None
    currency: str
    lines: tuple[OrderLine, ...] = field(default_factory=tuple)
    changed_at: datetime | None = None
