"""Stock as portals and the warehouse app read it: answered from the inventory read model, which
follows the WMS through the event log (its pushes and the gateway's sweeps of its listing).

Through `logistics-gateway run` (a process) in front of the reference backends (processes): a
warehouse write shows in the next reads once the WMS's event is projected, and stock still
answers while the WMS is down, without a call to it, saying it is stale once the WMS has been
silent longer than its freshness window.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.gateway.conftest import (
    READ_MODEL_WAIT_S,
    WEBHOOK_SECRETS,
    RunningGateway,
    callers_requests,
    gateway_process,
    stock_of,
    wait_for_orders,
    write_config,
)
from tests.gateway.test_warehouse_writes import open_tasks, set_stock
from tests.sandbox_processes import Sandbox, free_port

ADJUST_STOCK = """
mutation($wh: String!, $bin: String!, $sku: String!, $delta: Int!, $key: String) {
  adjustStock(warehouseId: $wh, bin: $bin, sku: $sku, delta: $delta, reason: FOUND,
              idempotencyKey: $key) {
    __typename
    ... on StockAdjusted { position { onHand bin } }
  }
}"""

CONFIRM_PICK = """
mutation($task: String!, $key: String) {
  confirmPick(taskId: $task, idempotencyKey: $key) {
    __typename
    ... on PickConfirmed { task { state quantity } }
  }
}"""


def warehouse_app(gateway: RunningGateway, query: str, variables: dict[str, Any]) -> dict:
    response = httpx.post(
        gateway.graphql_url(),
        json={"query": query, "variables": variables},
        headers={"X-API-Key": gateway.api_key("warehouse")},
        timeout=30.0,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def in_bin(bin_code: str, field: str, value: int):  # type: ignore[no-untyped-def]
    def holds(positions: list[dict[str, Any]]) -> bool:
        return any(p["bin"] == bin_code and int(p[field]) == value for p in positions)

    return holds


def test_an_adjustment_shows_in_the_next_reads_once_the_wms_event_is_projected(
    gateway: RunningGateway, clean_faults: Sandbox
):
    clean_faults.set_webhook("wms", gateway.webhook_url("wms"), WEBHOOK_SECRETS["wms"])
    sku = "MAT-0031"
    before = stock_of(gateway, sku, warehouse="WH-AMS")
    bin_code = before[0]["bin"]
    adjusted = warehouse_app(
        gateway,
        ADJUST_STOCK,
        {"wh": "WH-AMS", "bin": bin_code, "sku": sku, "delta": 3, "key": str(uuid.uuid4())},
    )["adjustStock"]
    assert adjusted["__typename"] == "StockAdjusted", adjusted
    expected = int(adjusted["position"]["onHand"])

    started = time.monotonic()
    after = stock_of(gateway, sku, warehouse="WH-AMS", until=in_bin(bin_code, "onHand", expected))
    shown_after_s = time.monotonic() - started
    assert in_bin(bin_code, "onHand", expected)(after), (expected, after)
    assert shown_after_s < 10, f"the push took {shown_after_s:.1f}s to show (no sweep needed)"
    others = {p["bin"]: p for p in before if p["bin"] != bin_code}
    assert {p["bin"]: p for p in after if p["bin"] != bin_code} == others, "other bins unchanged"


def test_a_confirmed_pick_takes_its_stock_off_the_bin_in_the_next_reads(
    gateway: RunningGateway, clean_faults: Sandbox
):
    clean_faults.set_webhook("wms", gateway.webhook_url("wms"), WEBHOOK_SECRETS["wms"])
    (task,) = open_tasks(clean_faults, "WH-AMS", "PICK")
    set_stock(clean_faults, task, task["qty"] + 20)
    counted = task["qty"] + 20
    stock_of(gateway, task["sku"], warehouse="WH-AMS", until=in_bin(task["bin"], "onHand", counted))

    confirmation = {"task": task["task_id"], "key": str(uuid.uuid4())}
    picked = warehouse_app(gateway, CONFIRM_PICK, confirmation)
    assert picked["confirmPick"]["__typename"] == "PickConfirmed", picked

    after = stock_of(
        gateway, task["sku"], warehouse="WH-AMS", until=in_bin(task["bin"], "onHand", 20)
    )
    assert in_bin(task["bin"], "onHand", 20)(after), (task, after)


WMS_WINDOW_S = 3
"""The WMS's freshness window of the outage gateway: its sweeps (every second) hear it."""

FRESH_STOCK = """query($sku: String!) {
    inventory(sku: $sku) { positions { warehouseId bin onHand asOf stale } } }"""


@pytest.fixture(scope="module")
def sweeping_gateway(
    sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    """A gateway that sweeps the WMS's stock listing every second and calls the WMS stale
    after `WMS_WINDOW_S` of silence."""
    directory = tmp_path_factory.mktemp("stock-outage")
    port = free_port()
    config = directory / "gateway.toml"
    write_config(
        config,
        sandbox,
        port,
        directory / "gateway.sqlite3",
        poll_interval_s=1.0,
        extra=f"[freshness]\nwms_window_s = {WMS_WINDOW_S}\n",
    )
    with gateway_process(config, port) as running:
        yield running


def fresh_stock(gateway: RunningGateway, sku: str) -> list[dict[str, Any]]:
    response = httpx.post(
        gateway.graphql_url(),
        json={"query": FRESH_STOCK, "variables": {"sku": sku}},
        headers={"X-API-Key": gateway.api_key("C-1001")},
        timeout=30.0,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]["inventory"]["positions"]


def fresh_stock_once(
    gateway: RunningGateway, sku: str, until: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + READ_MODEL_WAIT_S
    while True:
        positions = fresh_stock(gateway, sku)
        if until(positions) or time.monotonic() > deadline:
            return positions
        time.sleep(0.2)


def stale(positions: list[dict[str, Any]]) -> bool:
    return bool(positions) and all(p["stale"] for p in positions)


def current(positions: list[dict[str, Any]]) -> bool:
    return bool(positions) and not any(p["stale"] for p in positions)


def test_during_a_wms_outage_stock_still_answers_and_says_it_is_stale(
    sweeping_gateway: RunningGateway, clean_faults: Sandbox
):
    sku = "MAT-0002"
    listed = httpx.get(
        f"{clean_faults.wms}/v2/inventory",
        params={"sku": sku},
        headers=clean_faults.headers("wms"),
        timeout=10,
    ).json()["data"]
    before = fresh_stock_once(
        sweeping_gateway, sku, until=lambda found: current(found) and len(found) == len(listed)
    )
    assert current(before) and all(p["asOf"] for p in before), before
    assert len(before) == len(listed), (before, listed)
    clean_faults.clear_requests("wms")
    clean_faults.set_faults("wms", outage=True)
    started = time.monotonic()
    during = fresh_stock_once(sweeping_gateway, sku, until=stale)
    stale_after_s = time.monotonic() - started
    assert stale(during), during
    assert [(p["warehouseId"], p["bin"], p["onHand"]) for p in during] == [
        (p["warehouseId"], p["bin"], p["onHand"]) for p in before
    ], "the read model answers what it last heard"
    assert during[0]["asOf"] >= before[0]["asOf"], "as of the last time the WMS was heard"
    assert stale_after_s < WMS_WINDOW_S + 5, f"stale only after {stale_after_s:.1f}s"
    asked = [r for r in clean_faults.requests("wms") if r["path"] == "/v2/inventory"]
    assert all("sku=" not in r["query"] for r in asked), "stock reads never call the WMS"

    clean_faults.reset_faults("wms")
    after = fresh_stock_once(sweeping_gateway, sku, until=current)
    assert current(after), "the next completed sweep makes stock current again"


PAGE = """query($sku: String!, $first: Int!, $after: String) {
    inventory(sku: $sku, first: $first, after: $after) {
        positions { warehouseId bin } nextCursor } }"""


def read_page(
    gateway: RunningGateway, variables: dict[str, Any], tenant: str | None = "C-1001"
) -> httpx.Response:
    headers = {"X-API-Key": gateway.api_key(tenant)} if tenant else {}
    return httpx.post(
        gateway.graphql_url(),
        json={"query": PAGE, "variables": variables},
        headers=headers,
        timeout=30.0,
    )


def test_stock_reads_refuse_anonymous_callers_forged_and_foreign_cursors_and_big_pages(
    gateway: RunningGateway, clean_faults: Sandbox
):
    stock_of(gateway, "MAT-0001", until=lambda positions: len(positions) > 1)
    assert read_page(gateway, {"sku": "MAT-0001", "first": 1}, tenant=None).status_code == 401
    first = read_page(gateway, {"sku": "MAT-0001", "first": 1}).json()["data"]["inventory"]
    cursor = first["nextCursor"]
    assert cursor, first

    refused = {
        "another tenant's cursor": read_page(
            gateway, {"sku": "MAT-0001", "first": 1, "after": cursor}, tenant="C-1002"
        ),
        "a forged cursor": read_page(
            gateway, {"sku": "MAT-0001", "first": 1, "after": '["WH-AMS", "A-01-01"]'}
        ),
        "another SKU's cursor": read_page(
            gateway, {"sku": "MAT-0002", "first": 1, "after": cursor}
        ),
        "a page over 500": read_page(gateway, {"sku": "MAT-0001", "first": 501}),
        "an oversized SKU": read_page(gateway, {"sku": "M" * 10_000, "first": 1}),
    }
    for case, response in refused.items():
        assert response.status_code == 200, (case, response.text)
        (error,) = response.json()["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (case, error)
        assert '["WH-AMS"' not in error["message"] and "M" * 100 not in error["message"], case


def test_the_largest_stock_page_answers_quickly_and_costs_no_backend_call(
    gateway: RunningGateway, clean_faults: Sandbox
):
    """Stock is not tenant data (both tenants read the same positions); the largest page a
    caller may ask for is read from the read model alone."""
    stock_of(gateway, "MAT-0001")
    clean_faults.clear_requests("wms")
    started = time.monotonic()
    mine = read_page(gateway, {"sku": "MAT-0001", "first": 500})
    elapsed_s = time.monotonic() - started
    theirs = read_page(gateway, {"sku": "MAT-0001", "first": 500}, tenant="C-1002")
    assert mine.json() == theirs.json() and "errors" not in mine.json(), mine.text
    assert elapsed_s < 2.0, f"a page of 500 took {elapsed_s:.2f}s"
    assert [r for r in callers_requests(clean_faults, "wms") if r["path"] == "/v2/inventory"] == []


ORDER_STOCK = """query($id: ID!) { order(id: $id) { lines { warehouseId item {
    sku stock(warehouseId: "WH-AMS") { bin onHand availableToPromise } availableToPromise } } } }"""


def order_stock(gateway: RunningGateway, order_id: str) -> dict[str, Any]:
    response = httpx.post(
        gateway.graphql_url(),
        json={"query": ORDER_STOCK, "variables": {"id": order_id}},
        headers={"X-API-Key": gateway.api_key("C-1001")},
        timeout=30.0,
    )
    body = response.json()
    assert "errors" not in body, body
    return body["data"]["order"]["lines"][0]["item"]


def test_an_order_lines_item_stock_comes_from_the_inventory_read_model(
    gateway: RunningGateway, clean_faults: Sandbox
):
    """Through the federation entity path (orders → item → stock), during a WMS outage too."""
    (order_id, *_) = wait_for_orders(gateway.graphql_url(), gateway.api_key("C-1001"))
    sku = order_stock(gateway, order_id)["sku"]
    in_amsterdam = stock_of(gateway, sku, warehouse="WH-AMS")
    everywhere = stock_of(gateway, sku, until=lambda found: len(found) > len(in_amsterdam))
    clean_faults.set_faults("wms", outage=True)
    item = order_stock(gateway, order_id)
    assert item["stock"] == [
        {k: p[k] for k in ("bin", "onHand", "availableToPromise")} for p in in_amsterdam
    ]
    total = sum(Decimal(p["availableToPromise"]) for p in everywhere)
    assert Decimal(item["availableToPromise"]) == total, (item, everywhere)
