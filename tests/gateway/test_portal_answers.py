"""Answers a portal can rely on: an outage removes only what that backend serves, orders come
newest first, and a page of orders with their shipments costs a bounded number of calls."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.gateway.conftest import RunningGateway
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


def test_during_a_tms_outage_orders_keep_their_erp_data_and_only_shipments_fail(
    gateway: RunningGateway, clean_faults: Sandbox
):
    settled(gateway, ORDERS_WITH_SHIPMENTS)
    clean_faults.set_faults("tms", outage=True)
    answer = post(gateway, ORDERS_WITH_SHIPMENTS)
    orders = answer["data"]["orders"]["orders"]
    assert len(orders) == 5, answer
    for order in orders:
        assert order["status"] and order["lines"], order
        assert order["shipments"] is None, order
        assert order["invoices"] is not None, order
    failed = {tuple(error["path"]) for error in answer["errors"]}
    assert failed == {("orders", "orders", i, "shipments") for i in range(5)}, answer["errors"]
    codes = {error["extensions"]["code"] for error in answer["errors"]}
    assert codes == {"BACKEND_UNAVAILABLE"}, answer["errors"]


def test_during_an_erp_outage_a_shipment_still_answers_from_the_tms_and_carrier(
    gateway: RunningGateway, clean_faults: Sandbox
):
    found = settled(gateway, "{ orders(first: 5) { orders { shipments { trackingNumber } } } }")
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
