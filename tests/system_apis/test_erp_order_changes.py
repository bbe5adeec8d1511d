"""The ERP's change log to canonical order changes, record by record, and the canonical order's
JSON form (the `order.changed` payload and the read model's record) read back unchanged."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import orjson
from hypothesis import given
from hypothesis import strategies as st

from domain.orders import Order, OrderLine, OrderStatus, order_from_record, order_record
from domain.parties import Address
from domain.storable import check_json
from domain.units import Money, Quantity, UnitOfMeasure
from system_apis.erp.changes import order_changes_from_erp
from system_apis.erp.events import ORDER_CHANGED_EVENT_TYPE, order_changed_envelope
from tests.system_apis.test_erp_mapping import SALES_ORDER


def change(number: int, **order: object) -> dict:
    return {
        "change_no": number,
        "doc_no": "SO-100042",
        "changed_at": "2026-11-02T09:14:00+01:00",
        "sales_order": {**SALES_ORDER, **order},
    }


def test_a_page_maps_each_change_and_sets_a_bad_one_apart_whole() -> None:
    page = {
        "records": [
            change(301),
            change(302, status="SHIPPED?"),
            change(303, sold_to="x" * 101),
            change(304, doc_no="SO-\x00"),
        ],
        "next_page_token": "abc",
        "has_more": True,
    }
    batch = order_changes_from_erp(page)
    assert [c.change_number for c in batch.changes] == [301]
    assert batch.changes[0].order.status is OrderStatus.RELEASED
    assert (batch.cursor, batch.more) == ("abc", True)
    reasons = [record.reason for record in batch.rejected]
    assert reasons[0].startswith("changes.records[1].sales_order.status"), reasons
    assert "SHIPPED?" in reasons[0], reasons
    assert "customer_id" in reasons[1] and "longer than 100" in reasons[1], reasons
    assert "NUL" in reasons[2], reasons
    assert orjson.loads(batch.rejected[0].raw)["change_no"] == 302, "kept whole"


def test_a_change_becomes_one_order_changed_event_keyed_by_the_erps_change_number() -> None:
    (first,) = order_changes_from_erp({"records": [change(301)], "next_page_token": "t"}).changes
    now = datetime(2026, 11, 2, 10, tzinfo=UTC)
    envelope = order_changed_envelope(first, received_at=now, correlation_id="c")
    assert envelope.event_type == ORDER_CHANGED_EVENT_TYPE == "order.changed"
    assert envelope.event_id == "ERP:order-change:301"
    assert (envelope.aggregate_id, envelope.tenant_id) == ("SO-100042", "C-1001")
    assert envelope.payload["status"] == "RELEASED"
    assert envelope.payload["changed_at"] == "2026-11-02T09:14:00+01:00"
    assert envelope.occurred_at == datetime(2026, 11, 2, 8, 14, tzinfo=UTC)


texts = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20
)
decimals = st.decimals(min_value=-(10**9), max_value=10**9, places=3, allow_nan=False)


@st.composite
def orders(draw: st.DrawFn) -> Order:
    currency = draw(st.sampled_from(["EUR", "USD", "GBP"]))
    return Order(
        order_id=draw(texts.filter(bool)),
        customer_id=draw(texts.filter(bool)),
        status=draw(st.sampled_from(list(OrderStatus))),
        ship_to=Address(*(draw(texts) for _ in range(5))),
        ordered_on=draw(st.dates()),
        requested_delivery_on=draw(st.none() | st.dates()),
        currency=currency,
        lines=tuple(
            OrderLine(
                line_number=draw(st.integers(0, 10**6)),
                sku=draw(texts),
                quantity=Quantity(draw(decimals), draw(st.sampled_from(list(UnitOfMeasure)))),
                unit_price=Money(draw(decimals), currency),
                warehouse_id=draw(texts),
            )
            for _ in range(draw(st.integers(0, 4)))
        ),
        changed_at=draw(
            st.none()
            | st.datetimes(
                min_value=datetime(2000, 1, 1),
                max_value=datetime(2100, 1, 1),
                timezones=st.sampled_from([UTC, datetime.now().astimezone().tzinfo]),
            )
        ),
    )


@given(orders())
def test_an_orders_json_form_is_storable_and_reads_back_the_same_order(order: Order) -> None:
    record = order_record(order)
    check_json("order", record)
    assert order_from_record(orjson.loads(orjson.dumps(record))) == order


def test_the_json_form_keeps_decimals_as_text_and_dates_as_iso() -> None:
    order = Order(
        "SO-1",
        "C-1",
        OrderStatus.OPEN,
        Address("a", "b", "c", "d", "NL"),
        date(2026, 1, 2),
        date(2026, 1, 2) + timedelta(days=1),
        "EUR",
        (
            OrderLine(
                10,
                "MAT-1",
                Quantity(Decimal("1.50"), UnitOfMeasure.EACH),
                Money(Decimal("0.10"), "EUR"),
                "WH-AMS",
            ),
        ),
    )
    record = order_record(order)
    assert record["lines"][0]["quantity"] == "1.50" and record["lines"][0]["unit_price"] == "0.10"
    assert (record["ordered_on"], record["requested_delivery_on"]) == ("2026-01-02", "2026-01-03")
