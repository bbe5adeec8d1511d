"""The new read-model answers at the edge: `asOf`/`stale` on orders, shipments and stock, and
the orders listing's own page cursors, against the session's gateway process.

An anonymous caller gets nothing; another tenant's ids answer exactly like missing ones; a
cursor that is signed but holds no page key of the orders listing (one from before orders came
from the read model, an oversized one, a malformed one) is the caller's error and reaches no
backend; the most expensive page a caller may ask for costs no backend call, and more than the
operation limits allow is refused before anything runs.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from gateway.config import DEVELOPMENT_CURSOR_KEY
from policies.cursors import CursorSigner
from tests.gateway.conftest import RunningGateway, callers_requests, wait_for_orders
from tests.gateway.test_end_to_end import first_order_with_carrier
from tests.sandbox_processes import Sandbox

FRESHNESS_QUERIES = {
    "orders": "{ orders(first: 1) { orders { asOf stale } } }",
    "order": '{ order(id: "SO-100001") { asOf stale } }',
    "shipment": '{ shipment(trackingNumber: "SP0000000001") { asOf stale } }',
    "stock": '{ inventory(sku: "MAT-0001") { positions { asOf stale } } }',
}


def post(
    gateway: RunningGateway, query: str, variables: dict | None = None, *, key: str | None = None
) -> httpx.Response:
    headers = {"X-API-Key": key} if key is not None else {}
    return httpx.post(
        gateway.graphql_url(),
        json={"query": query, "variables": variables or {}},
        headers=headers,
        timeout=30.0,
    )


def ask(gateway: RunningGateway, query: str, tenant: str = "C-1001", **variables: Any) -> dict:
    response = post(gateway, query, variables, key=gateway.api_key(tenant))
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("field", sorted(FRESHNESS_QUERIES))
@pytest.mark.parametrize("key", [None, "", "not-a-key"])
def test_an_anonymous_caller_learns_nothing_of_any_answers_freshness(
    gateway: RunningGateway, field: str, key: str | None
) -> None:
    response = post(gateway, FRESHNESS_QUERIES[field], key=key)
    assert response.status_code == 401, response.text
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "asOf" not in response.text and "data" not in response.json()


async def test_another_tenants_order_and_shipment_answer_like_missing_ones_freshness_and_all(
    gateway: RunningGateway,
) -> None:
    theirs = await first_order_with_carrier(gateway, "C-1002", "SWFT")
    query = """query($id: ID!, $t: String!) {
        order(id: $id) { id asOf stale } shipment(trackingNumber: $t) { asOf stale } }"""
    foreign = ask(gateway, query, id=theirs["order_id"], t=theirs["tracking"])
    missing = ask(gateway, query, id="SO-999999", t="SP0000000000")
    assert foreign == missing == {"data": {"order": None, "shipment": None}}
    own = ask(gateway, query, "C-1002", id=theirs["order_id"], t=theirs["tracking"])["data"]
    assert own["order"]["id"] == theirs["order_id"] and own["shipment"] is not None


def test_the_orders_listing_never_pages_into_another_tenants_orders(
    gateway: RunningGateway,
) -> None:
    wait_for_orders(gateway.graphql_url(), gateway.api_key("C-1002"))
    query = """query($after: String) {
        orders(first: 100, after: $after) { orders { id customerId } nextCursor } }"""
    seen: dict[str, set[str]] = {}
    for tenant in ("C-1001", "C-1002"):
        ids: set[str] = set()
        after = None
        for _ in range(20):
            page = ask(gateway, query, tenant, after=after)["data"]["orders"]
            assert {o["customerId"] for o in page["orders"]} <= {tenant}, page
            ids |= {o["id"] for o in page["orders"]}
            after = page["nextCursor"]
            if after is None:
                break
        seen[tenant] = ids
    assert seen["C-1001"] and seen["C-1002"] and not seen["C-1001"] & seen["C-1002"]


SIGNED = CursorSigner(DEVELOPMENT_CURSOR_KEY.encode())
ORDERS_AFTER = "query($after: String) { orders(first: 5, after: $after) { orders { id } } }"


@pytest.mark.parametrize(
    "inner",
    [
        "cDoz",  # an ERP page token, as cursors carried before orders came from the read model
        "",
        "~",
        "2026-11-02~",
        "~SO-100001",
        "not-a-date~SO-100001",
        "2026-13-45~SO-100001",
        "2026-11-02~" + "S" * 101,
        "2026-11-02" + "~" * 700,
        "2026-11-02\x00~SO-1",
        "2026-11-02~SO-1\x00",
    ],
)
def test_a_signed_cursor_without_a_page_key_of_the_orders_listing_is_the_callers_error(
    gateway: RunningGateway, clean_faults: Sandbox, inner: str
) -> None:
    clean_faults.clear_requests("erp")
    cursor = SIGNED.issue("orders", "C-1001", inner)
    answer = ask(gateway, ORDERS_AFTER, after=cursor)
    assert answer["data"] in (None, {"orders": None}), answer
    (error,) = answer["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert "`after` cursor" in error["message"], error
    assert callers_requests(clean_faults, "erp") == []


def test_a_page_key_signed_for_the_orders_listing_pages_on_from_it(
    gateway: RunningGateway,
) -> None:
    listed = wait_for_orders(gateway.graphql_url(), gateway.api_key("C-1001"), at_least=10)
    first = ask(gateway, "{ orders(first: 3) { orders { id orderedOn } nextCursor } }")
    page = first["data"]["orders"]
    last = page["orders"][-1]
    crafted = SIGNED.issue("orders", "C-1001", f"{last['orderedOn']}~{last['id']}")
    following = ask(gateway, ORDERS_AFTER, after=crafted)["data"]["orders"]["orders"]
    handed = ask(gateway, ORDERS_AFTER, after=page["nextCursor"])["data"]["orders"]["orders"]
    assert following == handed and following[0]["id"] == listed[3]


def test_the_largest_page_with_every_freshness_field_costs_no_backend_call(
    gateway: RunningGateway, clean_faults: Sandbox
) -> None:
    listed = wait_for_orders(gateway.graphql_url(), gateway.api_key("C-1001"), at_least=40)
    query = """{ orders(first: 100) { orders { id asOf stale
        shipments { asOf stale milestones { status } } } } }"""
    clean_faults.clear_requests()
    started = time.monotonic()
    answer = ask(gateway, query)
    elapsed = time.monotonic() - started
    assert "errors" not in answer, answer
    orders = answer["data"]["orders"]["orders"]
    assert len(orders) == len(listed), "the whole first page of up to 100"
    assert len({(o["asOf"], o["stale"]) for o in orders}) == 1, "one freshness per answer"
    for backend in ("erp", "tms", "swiftparcel", "roadline", "heritage"):
        assert callers_requests(clean_faults, backend) == [], backend
    assert elapsed < 10, f"{elapsed:.1f}s for the largest page"


def test_more_freshness_than_the_operation_limits_allow_is_refused_before_it_runs(
    gateway: RunningGateway, clean_faults: Sandbox
) -> None:
    aliased = " ".join(f"o{n}: orders(first: 100) {{ orders {{ asOf stale }} }}" for n in range(40))
    clean_faults.clear_requests()
    response = post(gateway, f"{{ {aliased} }}", key=gateway.api_key("C-1001"))
    assert response.status_code in (200, 400), response.text
    errors = response.json()["errors"]
    assert response.json().get("data") is None, "nothing ran"
    messages = " ".join(error["message"] for error in errors)
    assert "aliases" in messages and "root fields" in messages, errors
    assert all(callers_requests(clean_faults, backend) == [] for backend in ("erp", "tms"))
    too_big = ask(gateway, "{ orders(first: 101) { orders { asOf } } }")
    assert too_big["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
