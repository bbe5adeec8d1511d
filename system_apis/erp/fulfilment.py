"""The ERP's reservations, goods issue, freight charges and credit notes to and from the
canonical model; plain functions and the ERP records the canonical model has no type for yet."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from domain.billing import FreightCharge
from domain.units import Money, Quantity
from system_apis import fields
from system_apis.erp.mapping import UNITS


class ReservationStatus(StrEnum):
    ACTIVE = "ACTIVE"
    RELEASED = "RELEASED"
    CONSUMED = "CONSUMED"


RESERVATION_STATUS: Mapping[str, ReservationStatus] = {s.value: s for s in ReservationStatus}


@dataclass(frozen=True, slots=True)
class ReservedLine:
    line_number: int
    sku: str
    quantity: Quantity
    warehouse_id: str


@dataclass(frozen=True, slots=True)
class StockReservation:
    """Stock the ERP holds for a released order until goods issue consumes it."""

    reservation_id: str
    order_id: str
    customer_id: str
    status: ReservationStatus
    lines: tuple[ReservedLine, ...]


@dataclass(frozen=True, slots=True)
class BookStock:
    """What the ERP believes a warehouse (plant) holds of an item: its valuation's quantity."""

    warehouse_id: str
    sku: str
    quantity: Quantity


@dataclass(frozen=True, slots=True)
class CreditNote:
    """What the ERP credits a customer for a received return."""

    credit_note_id: str
    return_id: str
    order_id: str
    customer_id: str
    net: Money
    tax: Money
    gross: Money


def reservation_from_erp(record: Any, where: str = "reservation") -> StockReservation:
    data = fields.as_object(record, where)
    items = fields.as_list(fields.field(data, "items", where), f"{where}.items")
    return StockReservation(
        reservation_id=fields.text(data, "res_no", where),
        order_id=fields.text(data, "sales_doc", where),
        customer_id=fields.text(data, "sold_to", where),
        status=fields.choice(data, "status", where, RESERVATION_STATUS),
        lines=tuple(
            reserved_line_from_erp(item, f"{where}.items[{index}]")
            for index, item in enumerate(items)
        ),
    )


def reserved_line_from_erp(record: Any, where: str) -> ReservedLine:
    data = fields.as_object(record, where)
    return ReservedLine(
        line_number=fields.integer(data, "pos", where),
        sku=fields.text(data, "material", where),
        quantity=Quantity(
            fields.decimal(data, "qty", where), fields.choice(data, "uom", where, UNITS)
        ),
        warehouse_id=fields.text(data, "plant", where),
    )


def book_stock_from_erp(record: Any, where: str = "stock") -> BookStock:
    data = fields.as_object(record, where)
    return BookStock(
        warehouse_id=fields.text(data, "plant", where),
        sku=fields.text(data, "material", where),
        quantity=Quantity(
            fields.decimal(data, "unrestricted", where), fields.choice(data, "uom", where, UNITS)
        ),
    )


def freight_charge_from_erp(record: Any, where: str = "freight") -> FreightCharge:
    data = fields.as_object(record, where)
    return FreightCharge(
        carrier=fields.text(data, "carrier", where),
        tracking_number=fields.text(data, "tracking", where),
        amount=Money(
            fields.decimal(data, "amount", where), fields.currency(data, "currency", where)
        ),
    )


def goods_issue_to_erp(freight: FreightCharge) -> dict[str, Any]:
    return {
        "carrier": freight.carrier,
        "tracking": freight.tracking_number,
        "freight_amount": str(freight.amount.amount),
        "currency": freight.amount.currency,
    }


def credit_note_from_erp(record: Any, where: str = "credit_note") -> CreditNote:
    data = fields.as_object(record, where)
    currency = fields.currency(data, "currency", where)
    return CreditNote(
        credit_note_id=fields.text(data, "cn_no", where),
        return_id=fields.text(data, "ref_doc", where),
        order_id=fields.text(data, "sales_doc", where),
        customer_id=fields.text(data, "bill_to", where),
        net=Money(fields.decimal(data, "net", where), currency),
        tax=Money(fields.decimal(data, "tax", where), currency),
        gross=Money(fields.decimal(data, "gross", where), currency),
    )
