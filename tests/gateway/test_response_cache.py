"""Response and entity caching through a real gateway process (memory cache, one process).

The gateway keeps answers for long ages (`[cache] types`), so an answer that changes before
its age is up proves a purge; the ERP's invoice listings are counted at the reference ERP to
prove a hit costs no backend call.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gateway.conftest import (
    READ_MODEL_WAIT_S,
    RunningGateway,
    gateway_process,
    wait_for_orders,
    write_config,
)
from tests.gateway.test_end_to_end import (
    first_order_with_carrier,
    post_webhook,
    swift_body,
    swift_signature,
)
from tests.gateway.test_live_over_websocket import opened, receive
from tests.sandbox_processes import Sandbox, free_port
from tests.shipped_orders import shipped_order

INVOICE_AGE_S = 3
CACHE = f"""
[cache]
enabled = true
stale_if_error_s = 120
max_entry_bytes = 4096
types = {{ Shipment = 600, Order = 600, OrderPage = 600, Invoice = {INVOICE_AGE_S} }}
"""
ORDER_INVOICES = "query($id: ID!) { order(id: $id) { id invoices { id } } }"


@pytest.fixture(scope="module")
def gateway(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    directory: Path = tmp_path_factory.mktemp("response-cache")
    port = free_port()
    config = directory / "gateway.toml"
    write_config(config, sandbox, port, directory / "gateway.sqlite3", extra=CACHE)
    with gateway_process(config, port) as running:
        wait_for_orders(running.graphql_url(), running.api_key("C-1001"))
        yield running


def post(
    gateway: RunningGateway, query: str, tenant: str = "C-1001", **variables: Any
) -> httpx.Response:
    return httpx.post(
        gateway.graphql_url(),
        json={"query": query, "variables": variables},
        headers={"X-API-Key": gateway.api_key(tenant)},
        timeout=30.0,
    )


def get(
    gateway: RunningGateway,
    query: str,
    tenant: str | None = "C-1001",
    headers: dict[str, str] | None = None,
    **variables: Any,
) -> httpx.Response:
    params = {"query": query}
    if variables:
        params["variables"] = json.dumps(variables)
    sent = dict(headers or {})
    if tenant is not None:
        sent["X-API-Key"] = gateway.api_key(tenant)
    return httpx.get(gateway.graphql_url(), params=params, headers=sent, timeout=30.0)


def invoice_listings(sandbox: Sandbox, order_id: str) -> int:
    return sum(
        1
        for r in sandbox.requests("erp")
        if r["path"] == "/api/v1/invoices" and f"sales_doc={order_id}" in r["query"]
    )


@pytest.fixture(scope="module")
def order_id(gateway: RunningGateway) -> str:
    return wait_for_orders(gateway.graphql_url(), gateway.api_key("C-1001"))[0]


def test_a_repeated_query_is_answered_without_calling_the_backend_again(gateway, sandbox, order_id):
    time.sleep(INVOICE_AGE_S)  # whatever an earlier test kept of this order has aged out
    before = invoice_listings(sandbox, order_id)
    first = post(gateway, ORDER_INVOICES, id=order_id).json()
    second = post(gateway, ORDER_INVOICES, id=order_id).json()
    assert "errors" not in first, first
    assert second == first
    assert invoice_listings(sandbox, order_id) == before + 1


def test_another_query_needing_the_same_order_entity_costs_no_billing_fetch(
    gateway, sandbox, order_id
):
    time.sleep(INVOICE_AGE_S)
    before = invoice_listings(sandbox, order_id)
    post(gateway, ORDER_INVOICES, id=order_id)
    other = post(
        gateway, "query($id: ID!) { order(id: $id) { status invoices { id } } }", id=order_id
    )
    assert "errors" not in other.json(), other.text
    assert invoice_listings(sandbox, order_id) == before + 1


def test_two_tenants_asking_the_same_query_each_get_their_own_answer(gateway, order_id):
    mine = post(gateway, "{ me { id } }", "C-1001").json()
    theirs = post(gateway, "{ me { id } }", "C-1002").json()
    assert mine["data"]["me"]["id"] == "C-1001"
    assert theirs["data"]["me"]["id"] == "C-1002"
    post(gateway, ORDER_INVOICES, "C-1001", id=order_id)
    foreign = post(gateway, ORDER_INVOICES, "C-1002", id=order_id).json()
    assert foreign["data"]["order"] is None, "another tenant's cached order leaked"


def test_get_answers_carry_cache_control_an_etag_and_304_for_the_same_caller(gateway, order_id):
    query = "query($id: ID!) { order(id: $id) { id status } }"
    first = get(gateway, query, id=order_id)
    assert first.status_code == 200, first.text
    assert first.headers["cache-control"] == "max-age=600, public"
    assert "X-API-Key" in first.headers["vary"]
    etag = first.headers["etag"]
    again = get(gateway, query, headers={"If-None-Match": etag}, id=order_id)
    assert again.status_code == 304 and again.content == b""
    other = get(gateway, query, "C-1002", headers={"If-None-Match": etag}, id=order_id)
    assert other.status_code == 200 and other.json()["data"]["order"] is None
    for malformed in ("not-a-tag", '"open', "W/", '"' * 10_000):
        answer = get(gateway, query, headers={"If-None-Match": malformed}, id=order_id)
        assert answer.status_code == 200, malformed
        assert answer.json()["data"]["order"]["id"] == order_id
    posted = post(gateway, query, id=order_id)
    assert "etag" not in posted.headers and "cache-control" not in posted.headers


def test_an_anonymous_caller_gets_no_cached_answer(gateway, order_id):
    query = "query($id: ID!) { order(id: $id) { id status } }"
    get(gateway, query, id=order_id)
    anonymous = get(gateway, query, tenant=None, id=order_id)
    assert anonymous.status_code == 401
    assert order_id not in anonymous.text
    assert "etag" not in anonymous.headers


def test_fields_without_a_hint_are_never_cached_and_say_no_store(gateway):
    answer = get(gateway, "{ returns(first: 1) { nextCursor } }")
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    assert "etag" not in answer.headers


def test_an_answer_over_the_entry_size_is_answered_but_not_kept(gateway):
    small = "{ orders(first: 1) { orders { id } } }"
    large = "{ orders(first: 60) { orders { id shipTo { name street city postalCode } } } }"
    deadline = time.monotonic() + READ_MODEL_WAIT_S
    first = get(gateway, large)
    while len(first.content) <= 4096:  # the orders read model is still filling
        assert time.monotonic() < deadline, "sixty orders never make a large answer"
        time.sleep(0.5)
        first = get(gateway, large)
    for _ in range(5):  # an order change by another test in between purges the small one too
        get(gateway, small)
        time.sleep(1.1)
        if int(get(gateway, small).headers.get("age", "0")) >= 1:
            break
    else:
        pytest.fail("the small answer is never cached")
    again = get(gateway, large)
    assert again.status_code == 200 and "age" not in again.headers
    assert again.json()["data"] == first.json()["data"]


def test_an_expensive_query_is_computed_once_then_served_from_the_cache(gateway, sandbox):
    orders = wait_for_orders(gateway.graphql_url(), gateway.api_key("C-1001"), at_least=10)[:10]
    time.sleep(INVOICE_AGE_S)
    aliases = " ".join(
        f'o{i}: order(id: "{oid}") {{ id invoices {{ id gross {{ amount }} }} }}'
        for i, oid in enumerate(orders)
    )
    before = sum(invoice_listings(sandbox, oid) for oid in orders)
    first = get(gateway, "{ " + aliases + " }")
    second = get(gateway, "{ " + aliases + " }")
    assert second.json() == first.json()
    assert sum(invoice_listings(sandbox, oid) for oid in orders) - before <= len(orders)
    assert second.headers["etag"] == first.headers["etag"]


async def test_a_delivery_purges_that_shipments_cached_answers_at_once(gateway, sandbox):
    found = await first_order_with_carrier(
        gateway, "C-1001", "SWFT", delivered=True, sandbox=sandbox
    )
    tracking = found["tracking"]
    query = "query($t: String!) { shipment(trackingNumber: $t) { milestones { carrierCode } } }"
    order_query = "query($id: ID!) { order(id: $id) { shipments { milestones { carrierCode } } } }"
    before = post(gateway, query, t=tracking).json()["data"]["shipment"]["milestones"]
    post(gateway, order_query, id=found["order_id"])
    body = swift_body(tracking, "DL", datetime.now(UTC), f"cache-{uuid.uuid4().hex}")
    headers = {"X-Swift-Signature": swift_signature(body), "content-type": "application/json"}
    assert (await post_webhook(gateway, "swiftparcel", body, headers)).status_code == 202
    deadline = time.monotonic() + READ_MODEL_WAIT_S  # far within the 600 s the answer may live
    while True:
        now = post(gateway, query, t=tracking).json()["data"]["shipment"]["milestones"]
        if len(now) > len(before):
            break
        assert time.monotonic() < deadline, "the cached shipment was never purged"
        await asyncio.sleep(0.2)
    in_order = post(gateway, order_query, id=found["order_id"]).json()["data"]["order"]
    lengths = [len(s["milestones"]) for s in in_order["shipments"]]
    assert len(now) in lengths, "the order's cached shipments were not purged"


async def test_an_order_change_purges_the_order_and_the_tenants_lists(gateway, sandbox):
    created = await shipped_order(sandbox, "C-1001", [("MAT-0001", 1)], shipped=False)
    order_id = created["doc_no"]
    wait_for_orders(gateway.graphql_url(), gateway.api_key("C-1001"), order_id)
    query = "query($id: ID!) { order(id: $id) { status } }"
    before = post(gateway, query, id=order_id).json()["data"]["order"]["status"]
    await sandbox.aadvance("erp", order_id, 1)
    deadline = time.monotonic() + READ_MODEL_WAIT_S
    while post(gateway, query, id=order_id).json()["data"]["order"]["status"] == before:
        assert time.monotonic() < deadline, "the cached order was never purged"
        await asyncio.sleep(0.25)


def test_a_failing_backend_is_answered_with_the_last_good_answer_marked_stale(
    gateway, sandbox, order_id
):
    good = post(gateway, ORDER_INVOICES, id=order_id).json()
    assert "errors" not in good
    time.sleep(INVOICE_AGE_S + 0.5)
    sandbox.set_faults("erp", outage=True)
    try:
        stale = post(gateway, ORDER_INVOICES, id=order_id).json()
        answered = get(gateway, ORDER_INVOICES, id=order_id)
    finally:
        sandbox.reset_faults("erp")
    assert "errors" not in stale, stale
    assert stale["data"] == good["data"]
    assert stale["extensions"]["cache"]["stale"] is True
    assert stale["extensions"]["cache"]["age"] >= INVOICE_AGE_S
    assert answered.headers["cache-control"] == "no-store"
    other = post(gateway, ORDER_INVOICES, "C-1002", id=order_id).json()
    assert "cache" not in other.get("extensions", {})


async def test_queries_over_a_websocket_and_sse_share_the_callers_cache(gateway, sandbox, order_id):
    time.sleep(INVOICE_AGE_S)
    before = invoice_listings(sandbox, order_id)
    kept = post(gateway, ORDER_INVOICES, id=order_id).json()
    socket = await opened(gateway, "C-1001")
    try:
        message = {
            "id": "q1",
            "type": "subscribe",
            "payload": {"query": ORDER_INVOICES, "variables": {"id": order_id}},
        }
        await socket.send(json.dumps(message))
        answer = await receive(socket)
        assert answer["type"] == "next" and answer["payload"] == kept
    finally:
        await socket.close()
    other = await opened(gateway, "C-1002")
    try:
        await other.send(json.dumps({**message, "id": "q2"}))
        foreign = await receive(other)
        assert foreign["payload"]["data"]["order"] is None
    finally:
        await other.close()
    streamed = httpx.post(
        gateway.graphql_url(),
        json={"query": ORDER_INVOICES, "variables": {"id": order_id}},
        headers={"X-API-Key": gateway.api_key("C-1001"), "Accept": "text/event-stream"},
        timeout=30.0,
    )
    assert json.dumps(kept["data"]).replace(" ", "") in streamed.text.replace(" ", "")
    assert invoice_listings(sandbox, order_id) == before + 1
