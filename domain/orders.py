"""Sales orders and their lines, as the ERP (their system of record) defines them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from domain.parties import Address
from domain.units import Money, Quantity, UnitOfMeasure

ORDER_TEXT_LIMITS: Mapping[str, int] = {"order_id": 100, "customer_id": 100}
"""Maximum length of an order's ids; the read model's columns and the events are sized from it."""


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


def order_record(order: Order) -> dict[str, Any]:
    """A JSON-ready form of the order for the event log and the read models: decimals and
    dates as text (never floats), the status as its canonical name."""
    return {
        "order_id": order.order_id,
        "customer_id": order.customer_id,
        "status": order.status.value,
        "ship_to": {
            "name": order.ship_to.name,
            "street": order.ship_to.street,
            "city": order.ship_to.city,
            "postal_code": order.ship_to.postal_code,
            "country": order.ship_to.country,
        },
        "ordered_on": order.ordered_on.isoformat(),
        "requested_delivery_on": (
            order.requested_delivery_on.isoformat() if order.requested_delivery_on else None
        ),
        "currency": order.currency,
        "lines": [
            {
                "line_number": line.line_number,
                "sku": line.sku,
                "quantity": str(line.quantity.value),
                "unit": line.quantity.unit.value,
                "unit_price": str(line.unit_price.amount),
                "warehouse_id": line.warehouse_id,
            }
            for line in order.lines
        ],
        "changed_at": order.changed_at.isoformat() if order.changed_at else None,
    }


def order_from_record(record: Mapping[str, Any]) -> Order:
    """The inverse of `order_record`, for consumers of the event log and the read models."""
    currency = str(record["currency"])
    requested = record.get("requested_delivery_on")
    changed_at = record.get("changed_at")
    ship_to = record["ship_to"]
    return Order(
        order_id=str(record["order_id"]),
        customer_id=str(record["customer_id"]),
        status=OrderStatus(record["status"]),
        ship_to=Address(
            name=str(ship_to["name"]),
            street=str(ship_to["street"]),
            city=str(ship_to["city"]),
            postal_code=str(ship_to["postal_code"]),
            country=str(ship_to["country"]),
        ),
        ordered_on=date.fromisoformat(record["ordered_on"]),
        requested_delivery_on=date.fromisoformat(requested) if requested else None,
        currency=currency,
        lines=tuple(
            OrderLine(
                line_number=int(line["line_number"]),
                sku=str(line["sku"]),
                quantity=Quantity(Decimal(line["quantity"]), UnitOfMeasure(line["unit"])),
                unit_price=Money(Decimal(line["unit_price"]), currency),
                warehouse_id=str(line["warehouse_id"]),
            )
            for line in record["lines"]
        ),
        changed_at=datetime.fromisoformat(changed_at) if changed_at else None,
    )
