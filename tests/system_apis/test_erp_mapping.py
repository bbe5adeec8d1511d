"""ERP records to canonical orders, customers, items and invoices."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from domain import InvoiceStatus, Money, OrderStatus, UnitOfMeasure, WeightUnit
from system_apis.erp.mapping import (
    customer_from_erp,
    invoice_from_erp,
    item_from_erp,
    order_from_erp,
)
from system_apis.errors import MalformedPayload

SALES_ORDER = {
    "doc_no": "SO-100042",
    "sold_to": "C-1001",
    "ship_to": {
        "name": "Acme BV",
        "street": "Damrak 1",
        "city": "Amsterdam",
        "postal_code": "1012 LG",
        "country": "NL",
    },
    "doc_date": "2026-11-02",
    "req_delivery_date": "2026-11-09",
    "status": "REL",
    "currency": "EUR",
    "items": [
        {
            "pos": 10,
            "material": "MAT-0012",
            "qty": "4",
            "uom": "EA",
            "net_price": "12.50",
            "plant": "WH-AMS",
        },
        {
            "pos": 20,
            "material": "MAT-0013",
            "qty": "1",
            "uom": "CS",
            "net_price": "99.00",
            "plant": "WH-RTM",
        },
    ],
    "changed_at": "2026-11-02T09:14:00+01:00",
}


def test_sales_order_maps_to_order_with_lines_in_explicit_units() -> None:
    order = order_from_erp(SALES_ORDER)
    assert (order.order_id, order.customer_id, order.status) == (
        "SO-100042",
        "C-1001",
        OrderStatus.RELEASED,
    )
    assert order.ordered_on == date(2026, 11, 2)
    assert order.requested_delivery_on == date(2026, 11, 9)
    assert order.ship_to.city == "Amsterdam" and order.ship_to.postal_code == "1012 LG"
    first, second = order.lines
    assert (first.line_number, first.sku, first.warehouse_id) == (10, "MAT-0012", "WH-AMS")
    assert first.quantity.value == Decimal(4) and first.quantity.unit is UnitOfMeasure.EACH
    assert first.unit_price == Money(Decimal("12.50"), "EUR")
    assert second.quantity.unit is UnitOfMeasure.CASE
    assert order.changed_at is not None
    assert order.changed_at.utcoffset() == timedelta(hours=1)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("OPEN", OrderStatus.OPEN),
        ("REL", OrderStatus.RELEASED),
        ("PART", OrderStatus.PARTIALLY_SHIPPED),
        ("SHIP", OrderStatus.SHIPPED),
        ("INV", OrderStatus.INVOICED),
        ("CNCL", OrderStatus.CANCELLED),
    ],
)
def test_every_erp_order_status_maps(code: str, status: OrderStatus) -> None:
    assert order_from_erp({**SALES_ORDER, "status": code}).status is status


def test_unknown_order_status_names_the_field_and_value() -> None:
    with pytest.raises(MalformedPayload, match=r"sales_order\.status: unknown value 'HOLD'"):
        order_from_erp({**SALES_ORDER, "status": "HOLD"})


def test_bad_line_quantity_names_the_line() -> None:
    items = [dict(SALES_ORDER["items"][0], qty="four")]
    with pytest.raises(MalformedPayload, match=r"sales_order\.items\[0\]\.qty"):
        order_from_erp({**SALES_ORDER, "items": items})


def test_missing_field_is_malformed_not_a_key_error() -> None:
    record = {key: value for key, value in SALES_ORDER.items() if key != "sold_to"}
    with pytest.raises(MalformedPayload, match=r"sales_order\.sold_to: missing"):
        order_from_erp(record)


def test_change_time_without_offset_is_refused() -> None:
    with pytest.raises(MalformedPayload, match="no UTC offset"):
        order_from_erp({**SALES_ORDER, "changed_at": "2026-11-02T09:14:00"})


def test_customer_maps_credit_block() -> None:
    customer = customer_from_erp(
        {
            "cust_no": "C-1001",
            "name": "Acme",
            "country": "NL",
            "currency": "EUR",
            "credit_block": True,
        }
    )
    assert customer.customer_id == "C-1001" and customer.credit_blocked


def test_material_maps_to_item_with_weight_and_price() -> None:
    item = item_from_erp(
        {
            "material": "MAT-0012",
            "descr": "Blue widget",
            "base_uom": "EA",
            "gross_weight": "1.200",
            "weight_unit": "KG",
            "std_price": "12.50",
            "currency": "EUR",
        }
    )
    assert item.sku == "MAT-0012" and item.base_unit is UnitOfMeasure.EACH
    assert item.gross_weight.value == Decimal("1.200")
    assert item.gross_weight.unit is WeightUnit.KILOGRAM
    assert item.standard_price == Money(Decimal("12.50"), "EUR")


def test_invoice_maps_amounts_and_freight_in_its_currency() -> None:
    invoice = invoice_from_erp(
        {
            "inv_no": "INV-5000123",
            "sales_doc": "SO-100042",
            "bill_to": "C-1001",
            "inv_date": "2026-11-10",
            "due_date": "2026-12-10",
            "currency": "EUR",
            "net": "50.00",
            "tax": "10.50",
            "gross": "60.50",
            "freight": [{"carrier": "SWFT", "tracking": "SP0000000001", "amount": "7.95"}],
            "status": "PAID",
        }
    )
    assert invoice.invoice_id == "INV-5000123" and invoice.order_id == "SO-100042"
    assert invoice.gross == Money(Decimal("60.50"), "EUR")
    assert invoice.status is InvoiceStatus.PAID
    assert invoice.freight[0].amount == Money(Decimal("7.95"), "EUR")
    assert invoice.freight[0].tracking_number == "SP0000000001"
    assert invoice.due_on > invoice.issued_on


def test_invoice_with_a_bad_currency_is_malformed() -> None:
    with pytest.raises(MalformedPayload, match=r"invoice\.currency"):
        invoice_from_erp({"currency": "euro"})
