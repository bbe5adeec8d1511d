"""ERP records (its own field names) to and from the canonical model; plain functions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.billing import FreightCharge, Invoice, InvoiceStatus
from domain.items import Item
from domain.orders import Order, OrderLine, OrderStatus
from domain.parties import Address, Customer
from domain.units import Money, Quantity, UnitOfMeasure, Weight, WeightUnit
from system_apis import fields

ORDER_STATUS: Mapping[str, OrderStatus] = {
    "OPEN": OrderStatus.OPEN,
    "REL": OrderStatus.RELEASED,
    "PART": OrderStatus.PARTIALLY_SHIPPED,
    "SHIP": OrderStatus.SHIPPED,
    "INV": OrderStatus.INVOICED,
    "CNCL": OrderStatus.CANCELLED,
}
ERP_ORDER_STATUS: Mapping[OrderStatus, str] = {
    status: code for code, status in ORDER_STATUS.items()
}
INVOICE_STATUS: Mapping[str, InvoiceStatus] = {status.value: status for status in InvoiceStatus}
UNITS: Mapping[str, UnitOfMeasure] = {unit.value: unit for unit in UnitOfMeasure}
WEIGHT_UNITS: Mapping[str, WeightUnit] = {unit.value: unit for unit in WeightUnit}


def order_from_erp(record: Any, where: str = "sales_order") -> Order:
    data = fields.as_object(record, where)
    currency = fields.currency(data, "currency", where)
    items = fields.as_list(fields.field(data, "items", where), f"{where}.items")
    return Order(
        order_id=fields.text(data, "doc_no", where),
        customer_id=fields.text(data, "sold_to", where),
        status=fields.choice(data, "status", where, ORDER_STATUS),
        ship_to=address_from_erp(fields.field(data, "ship_to", where), f"{where}.ship_to"),
        ordered_on=fields.day(data, "doc_date", where),
        requested_delivery_on=fields.optional_day(data, "req_delivery_date", where),
        currency=currency,
        lines=tuple(
            order_line_from_erp(item, currency, f"{where}.items[{index}]")
            for index, item in enumerate(items)
        ),
        changed_at=fields.optional_aware_datetime(data, "changed_at", where),
    )


def order_line_from_erp(record: Any, currency: str, where: str = "item") -> OrderLine:
    data = fields.as_object(record, where)
    return OrderLine(
        line_number=fields.integer(data, "pos", where),
        sku=fields.text(data, "material", where),
        quantity=Quantity(
            fields.decimal(data, "qty", where), fields.choice(data, "uom", where, UNITS)
        ),
        unit_price=Money(fields.decimal(data, "net_price", where), currency),
        warehouse_id=fields.text(data, "plant", where),
    )


def address_from_erp(record: Any, where: str = "ship_to") -> Address:
    data = fields.as_object(record, where)
    return Address(
        name=fields.text(data, "name", where),
        street=fields.optional_text(data, "street", where) or "",
        city=fields.text(data, "city", where),
        postal_code=fields.optional_text(data, "postal_code", where) or "",
        country=fields.text(data, "country", where),
    )


def customer_from_erp(record: Any, where: str = "customer") -> Customer:
    data = fields.as_object(record, where)
    return Customer(
        customer_id=fields.text(data, "cust_no", where),
        name=fields.text(data, "name", where),
        country=fields.text(data, "country", where),
        currency=fields.currency(data, "currency", where),
        credit_blocked=fields.boolean(data, "credit_block", where),
    )


def item_from_erp(record: Any, where: str = "material") -> Item:
    data = fields.as_object(record, where)
    return Item(
        sku=fields.text(data, "material", where),
        description=fields.optional_text(data, "descr", where) or "",
        base_unit=fields.choice(data, "base_uom", where, UNITS),
        gross_weight=Weight(
            fields.decimal(data, "gross_weight", where),
            fields.choice(data, "weight_unit", where, WEIGHT_UNITS),
        ),
        standard_price=Money(
            fields.decimal(data, "std_price", where), fields.currency(data, "currency", where)
        ),
    )


def invoice_from_erp(record: Any, where: str = "invoice") -> Invoice:
    data = fields.as_object(record, where)
    currency = fields.currency(data, "currency", where)
    freight = fields.as_list(data.get("freight") or [], f"{where}.freight")
    return Invoice(
        invoice_id=fields.text(data, "inv_no", where),
        order_id=fields.text(data, "sales_doc", where),
        customer_id=fields.text(data, "bill_to", where),
        issued_on=fields.day(data, "inv_date", where),
        due_on=fields.day(data, "due_date", where),
        net=Money(fields.decimal(data, "net", where), currency),
        tax=Money(fields.decimal(data, "tax", where), currency),
        gross=Money(fields.decimal(data, "gross", where), currency),
        status=fields.choice(data, "status", where, INVOICE_STATUS),
        freight=tuple(
            freight_from_erp(charge, currency, f"{where}.freight[{index}]")
            for index, charge in enumerate(freight)
        ),
    )


def freight_from_erp(record: Any, currency: str, where: str = "freight") -> FreightCharge:
    data = fields.as_object(record, where)
    return FreightCharge(
        carrier=fields.text(data, "carrier", where),
        tracking_number=fields.text(data, "tracking", where),
        amount=Money(fields.decimal(data, "amount", where), currency),
    )


def order_status_to_erp(status: OrderStatus) -> str:
    """The ERP's own code for a canonical order status, for filtering."""
    return ERP_ORDER_STATUS[status]


def invoice_request_to_erp(order_id: str) -> dict[str, Any]:
    """The body that asks the ERP to invoice a shipped order."""
    return {"sales_doc": order_id}
