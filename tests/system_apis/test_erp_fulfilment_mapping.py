"""The ERP's reservations, freight charges, book stock and credit notes to the canonical model:
every well-formed record maps to the same values, anything else is a `MalformedPayload` that
names where."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.billing import FreightCharge
from domain.units import Money, UnitOfMeasure
from system_apis.erp.fulfilment import (
    ReservationStatus,
    book_stock_from_erp,
    credit_note_from_erp,
    freight_charge_from_erp,
    goods_issue_to_erp,
    reservation_from_erp,
)
from system_apis.errors import MalformedPayload

CODES = st.from_regex(r"[A-Z]{2,4}-[0-9]{1,6}", fullmatch=True)
AMOUNTS = st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False)
QUANTITIES = st.integers(1, 10_000)


@given(
    res_no=CODES,
    doc=CODES,
    status=st.sampled_from(["ACTIVE", "RELEASED", "CONSUMED"]),
    items=st.lists(st.tuples(CODES, QUANTITIES), min_size=1, max_size=5),
)
def test_a_reservation_maps_its_status_and_every_item(res_no, doc, status, items):
    record = {
        "res_no": res_no,
        "sales_doc": doc,
        "sold_to": "C-1001",
        "status": status,
        "items": [
            {"pos": 10 * (n + 1), "material": m, "qty": str(q), "uom": "EA", "plant": "WH-AMS"}
            for n, (m, q) in enumerate(items)
        ],
    }
    reservation = reservation_from_erp(record)
    assert reservation.reservation_id == res_no and reservation.order_id == doc
    assert reservation.status is ReservationStatus(status)
    assert [(line.sku, line.quantity.value) for line in reservation.lines] == [
        (m, Decimal(q)) for m, q in items
    ]
    assert all(line.quantity.unit is UnitOfMeasure.EACH for line in reservation.lines)


@given(carrier=st.sampled_from(["SWFT", "RDLN", "HRTG"]), tracking=CODES, amount=AMOUNTS)
def test_freight_goes_to_the_erp_and_comes_back_the_same(carrier, tracking, amount):
    charge = FreightCharge(carrier, tracking, Money(amount, "EUR"))
    sent = goods_issue_to_erp(charge)
    back = freight_charge_from_erp(
        {
            "carrier": sent["carrier"],
            "tracking": sent["tracking"],
            "amount": sent["freight_amount"],
            "currency": sent["currency"],
        }
    )
    assert back == charge


@given(plant=CODES, material=CODES, quantity=QUANTITIES)
def test_book_stock_maps_plant_material_and_quantity(plant, material, quantity):
    stock = book_stock_from_erp(
        {"plant": plant, "material": material, "unrestricted": str(quantity), "uom": "EA"}
    )
    assert (stock.warehouse_id, stock.sku, stock.quantity.value) == (plant, material, quantity)


@pytest.mark.parametrize(
    ("mapper", "record", "where"),
    [
        (
            reservation_from_erp,
            {"res_no": "R", "sales_doc": "S", "sold_to": "C", "status": "LOST", "items": []},
            "reservation.status",
        ),
        (
            reservation_from_erp,
            {"res_no": "R", "sales_doc": "S", "sold_to": "C", "status": "ACTIVE", "items": "all"},
            "reservation.items",
        ),
        (
            reservation_from_erp,
            {
                "res_no": "R",
                "sales_doc": "S",
                "sold_to": "C",
                "status": "ACTIVE",
                "items": [{"pos": 1}],
            },
            "reservation.items[0]",
        ),
        (
            freight_charge_from_erp,
            {"carrier": "S", "tracking": "T", "amount": "x", "currency": "EUR"},
            "freight.amount",
        ),
        (
            book_stock_from_erp,
            {"plant": "P", "material": "M", "unrestricted": "1", "uom": "LITRES"},
            "stock.uom",
        ),
        (credit_note_from_erp, {"cn_no": "CN-1"}, "credit_note"),
        (credit_note_from_erp, [], "credit_note"),
    ],
)
def test_a_record_off_the_erps_contract_names_where(mapper, record, where):
    with pytest.raises(MalformedPayload) as raised:
        mapper(record)
    assert where in raised.value.reason
