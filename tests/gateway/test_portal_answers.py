"""Answers a portal can rely on: an outage removes only what that backend serves (shipments,
answered from the read models, survive a TMS outage), orders come newest first, and a page of
orders with their shipments costs a bounded number of calls."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.gateway.conftest import (
    READ_MODEL_WAIT_S,
    RunningGateway,
    callers_requests,
    stock_of,
    wait_for_orders,
)
from tests.sandbox_processes import Sandbox


def post(gateway: RunningGateway, query: str, variables: dict | None = None) -> dict[str, Any]:
    response = httpx.post(
        gateway.graphql_url(),
        json={"query": query, "variables": variables or {}},
        headers={"X-API-Key": gateway.api_key("C-1001")},
        timeout=30.0,
    )
    assert response.status_code == 200, response.text
    return response.json()


def settled(gateway: RunningGateway, query: str, variables: dict | None = None) -> dict[str, Any]:
    """The answer once no breaker is left open by an earlier test (they reset in 0.5 s)."""
    deadline = time.monotonic() + 5.0
    while True:
        answer = post(gateway, query, variables)
        if "errors" not in answer or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


ORDERS_WITH_SHIPMENTS = """{ orders(first: 5) { orders {
    id status lines { lineNumber } shipments { trackingNumber } invoices { id } } } }"""


def with_shipments(
    gateway: RunningGateway, query: str, variables: dict | None = None
) -> dict[str, Any]:
    """The answer once the read models show shipments for the listed orders (the gateway fills
    them from the TMS's bookings after it starts)."""
    wait_for_orders(gateway.graphql_url(), gateway.api_key("C-1001"), at_least=40)
    deadline = time.monotonic() + READ_MODEL_WAIT_S
    while True:
        answer = settled(gateway, query, variables)
        orders = (answer.get("data") or {}).get("orders") or {"orders": []}
        if any(order["shipments"] for order in orders["orders"]) or time.monotonic() > deadline:
            return answer
        time.sleep(0.5)


def test_during_a_tms_outage_orders_keep_their_shipments_from_the_read_models(
    gateway: RunningGateway, clean_faults: Sandbox
):
    before = with_shipments(gateway, ORDERS_WITH_SHIPMENTS)["data"]["orders"]["orders"]
    clean_faults.set_faults("tms", outage=True)
    answer = post(gateway, ORDERS_WITH_SHIPMENTS)
    assert "errors" not in answer, answer["errors"]
    orders = answer["data"]["orders"]["orders"]
    assert len(orders) == 5, answer
    for earlier, order in zip(before, orders, strict=True):
        assert order["status"] and order["lines"], order
        assert order["invoices"] is not None, order
        shown = {s["trackingNumber"] for s in order["shipments"]}
        assert {s["trackingNumber"] for s in earlier["shipments"]} <= shown, order
    assert any(order["shipments"] for order in orders), "the read models answered"


def test_during_an_erp_outage_a_shipment_still_answers_from_the_read_models(
    gateway: RunningGateway, clean_faults: Sandbox
):
    found = with_shipments(
        gateway, "{ orders(first: 5) { orders { shipments { trackingNumber } } } }"
    )
    tracking = next(
        shipment["trackingNumber"]
        for order in found["data"]["orders"]["orders"]
        for shipment in order["shipments"]
    )
    clean_faults.set_faults("erp", outage=True)
    answer = post(
        gateway,
        "query($t: String!) { me { id } shipment(trackingNumber: $t) { trackingNumber } }",
        {"t": tracking},
    )
    assert answer["data"]["me"] is None
    assert answer["data"]["shipment"] == {"trackingNumber": tracking}, answer
    assert [tuple(e["path"]) for e in answer["errors"]] == [("me",)], answer


def test_inventory_pages_with_a_signed_cursor_instead_of_a_silent_cut(
    gateway: RunningGateway, clean_faults: Sandbox
):
    query = """query($sku: String!, $after: String) {
        inventory(sku: $sku, first: 1, after: $after) {
            positions { warehouseId bin } nextCursor } }"""
    fresh = post(gateway, '{ inventory(sku: "MAT-0001") { positions { asOf stale } } }')
    for position in fresh["data"]["inventory"]["positions"]:
        assert position["stale"] is (position["asOf"] is None), position
    stock_of(gateway, "MAT-0001", until=lambda positions: len(positions) > 1)
    sku = next(
        sku
        for sku in (f"MAT-{n:04d}" for n in range(1, 60))
        if settled(gateway, query, {"sku": sku})["data"]["inventory"]["nextCursor"]
    )
    first = post(gateway, query, {"sku": sku})["data"]["inventory"]
    second = post(gateway, query, {"sku": sku, "after": first["nextCursor"]})["data"]["inventory"]
    assert len(first["positions"]) == len(second["positions"]) == 1
    assert first["positions"] != second["positions"]
    forged = post(gateway, query, {"sku": sku, "after": first["nextCursor"][:-2] + "AA"})
    assert forged["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", forged
    other_sku = post(gateway, query, {"sku": "MAT-0001", "after": first["nextCursor"]})
    if sku != "MAT-0001":
        assert other_sku["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", other_sku


ORDERS_PAGE = """query($first: Int!, $after: String) {
    orders(first: $first, after: $after) { orders { id orderedOn } nextCursor } }"""


def test_orders_come_newest_first_and_pages_stay_stable_while_orders_arrive(
    gateway: RunningGateway, clean_faults: Sandbox
):
    wait_for_orders(gateway.graphql_url(), gateway.api_key("C-1001"), at_least=20)
    first_page = settled(gateway, ORDERS_PAGE, {"first": 10})["data"]["orders"]
    new_order = httpx.post(
        f"{clean_faults.erp}/api/v1/sales-orders",
        json={"sold_to": "C-1001", "items": [{"material": "MAT-0001", "qty": 1}]},
        headers=clean_faults.headers("erp"),
        timeout=10.0,
    )
    assert new_order.status_code == 201, new_order.text
    second_page = post(gateway, ORDERS_PAGE, {"first": 10, "after": first_page["nextCursor"]})[
        "data"
    ]["orders"]
    listed = first_page["orders"] + second_page["orders"]
    assert len({order["id"] for order in listed}) == 20, "no order twice across the pages"
    dates = [order["orderedOn"] for order in listed]
    assert dates == sorted(dates, reverse=True), dates
    wait_for_orders(gateway.graphql_url(), gateway.api_key("C-1001"), new_order.json()["doc_no"])
    newest = post(gateway, ORDERS_PAGE, {"first": 1})["data"]["orders"]["orders"]
    assert newest == [{"id": new_order.json()["doc_no"], "orderedOn": newest[0]["orderedOn"]}]


def api_calls(sandbox: Sandbox) -> dict[str, int]:
    """Requests per backend since the last clear, the pollers' own reads left out (any gateway
    on these backends polls them on its own schedule)."""
    return {backend: len(callers_requests(sandbox, backend)) for backend in sandbox.urls()}


ORDERS_WITH_SHIPMENT_STATUS = """query($first: Int!) { orders(first: $first) { orders {
    id shipments { trackingNumber carrier status live } invoices { id } } } }"""


def test_a_page_of_orders_with_their_shipments_costs_the_same_few_calls_at_any_size(
    gateway: RunningGateway, clean_faults: Sandbox
):
    with_shipments(gateway, ORDERS_WITH_SHIPMENT_STATUS, {"first": 40})
    costs = {}
    for size in (5, 40):
        clean_faults.clear_requests()
        answer = post(gateway, ORDERS_WITH_SHIPMENT_STATUS, {"first": size})
        assert "errors" not in answer, answer
        orders = answer["data"]["orders"]["orders"]
        assert len(orders) == size
        costs[size] = api_calls(clean_faults)
        shipped = sum(len(order["shipments"]) for order in orders)
    assert shipped >= 10, f"the page holds {shipped} shipments"
    assert costs[40] == costs[5], costs
    # the ERP: the invoices of all of them; orders and shipments come from the read models:
    # no ERP order listing, no TMS and no carrier call
    assert costs[40]["erp"] == 1 and costs[40]["tms"] == 0, costs
    assert costs[40]["swiftparcel"] == costs[40]["roadline"] == 0, costs
