"""Returns through the gateway as its users meet it: GraphQL over HTTP with API keys, against
`logistics-gateway run` in front of the reference ERP and WMS (all processes on loopback).

A portal reads its returns and asks for new ones; a warehouse app receives the goods. Every
command is retried under its key to prove it changes nothing twice; other tenants' ids are
answered exactly as ids that do not exist; malformed, oversized and expensive inputs are
refused before any backend is asked; and the WMS's pushes reach the event log as events
about the return, with its tenant.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from gateway.config import ClientConfig
from tests.gateway.conftest import (
    RunningGateway,
    callers_requests,
    gateway_process,
    wait_for_orders,
)
from tests.sandbox_processes import Sandbox, free_port
from tests.shipped_orders import shipped_order

pytestmark = pytest.mark.sandbox

WMS_SECRET = "returns-test-wms-secret"
KEYS = {
    "portal-c1001": "returns-portal-c1001",
    "portal-c1002": "returns-portal-c1002",
    "reader-c1001": "returns-reader-c1001",
    "dock-ams": "returns-dock-ams",
    "dock-rtm": "returns-dock-rtm",
}
CLIENTS = {
    "portal-c1001": ("C-1001", ["read", "write"], []),
    "portal-c1002": ("C-1002", ["read", "write"], []),
    "reader-c1001": ("C-1001", ["read"], []),
    "dock-ams": ("C-1001", ["read", "warehouse"], ["WH-AMS"]),
    "dock-rtm": ("C-1001", ["read", "warehouse"], ["WH-RTM"]),
}


WAREHOUSE_CLIENTS = "warehouses" in ClientConfig.model_fields
"""Clients name the warehouses they may act in once the configuration knows the key."""
needs_warehouse_clients = pytest.mark.skipif(
    not WAREHOUSE_CLIENTS, reason="clients.*.warehouses is not configurable yet"
)


def _config(sandbox: Sandbox, port: int, database: Path) -> str:
    clients = "\n".join(
        f'[clients.{name}]\ntenant = "{tenant}"\n'
        f'api_key_sha256 = "{hashlib.sha256(KEYS[name].encode()).hexdigest()}"\n'
        f"scopes = {json.dumps(scopes)}\n" + f"warehouses = {json.dumps(warehouses)}\n"
        for name, (tenant, scopes, warehouses) in CLIENTS.items()
        if WAREHOUSE_CLIENTS or not warehouses
    ).replace("warehouses = []\n", "")
    backends = "\n".join(
        f'[backends.{name}]\nurl = "{url}"\ntimeout_s = 2.0\nmax_retries = 1\n'
        for name, url in sandbox.urls().items()
    )
    return (
        f'[server]\nhost = "127.0.0.1"\nport = {port}\n\n'
        f'[stores]\ndatabase_url = "sqlite+aiosqlite:///{database}"\n\n'
        f'[webhooks]\nwms_secret = "{WMS_SECRET}"\n\n'
        f"[polling]\nenabled = true\nerp_orders_interval_s = 1.0\n\n{clients}\n{backends}"
    )


@pytest.fixture(scope="module")
def gateway(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    directory = tmp_path_factory.mktemp("returns-gateway")
    port = free_port()
    config = directory / "gateway.toml"
    config.write_text(_config(sandbox, port, directory / "gateway.sqlite3"))
    with gateway_process(config, port) as running:
        yield running


def database_of(gateway: RunningGateway) -> Path:
    return gateway.log.parent / "gateway.sqlite3"


def call(
    gateway: RunningGateway,
    client: str | None,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    sent = dict(headers or {})
    if client is not None:
        sent["X-API-Key"] = KEYS[client]
    return httpx.post(
        gateway.graphql_url(),
        json={"query": query, "variables": variables or {}},
        headers=sent,
        timeout=30.0,
    )


def answer(
    gateway: RunningGateway,
    client: str,
    query: str,
    variables: dict[str, Any] | None = None,
    **options: Any,
) -> dict[str, Any]:
    response = call(gateway, client, query, variables, **options)
    assert response.status_code == 200, response.text
    return response.json()


def codes(result: dict[str, Any]) -> set[str]:
    return {error["extensions"]["code"] for error in result.get("errors", [])}


def new_key() -> str:
    return f"key-{uuid.uuid4().hex}"


RETURN_FIELDS = """id status authorizedAt warehouseId trackingNumber order { id }
    lines { orderLine sku quantity { value unit } reason }
    receipt { id warehouseId lines { sku quantity { value } disposition bin } }"""

REQUEST = f"""mutation($order: ID!, $lines: [ReturnLineInput!]!, $key: String) {{
  requestReturn(orderId: $order, lines: $lines, idempotencyKey: $key) {{
    __typename
    ... on ReturnRequested {{ returnAuthorization {{ {RETURN_FIELDS} }} }}
    ... on OrderNotFound {{ orderId message }}
    ... on OrderLineNotFound {{ orderId lineNumber message }}
    ... on QuantityExceedsShipped {{ orderId message
          lines {{ lineNumber sku shipped alreadyReturned requested }} }}
    ... on ReturnWindowClosed {{ orderId closedOn message }}
  }}
}}"""

RECEIVE = """mutation($rma: ID!, $lines: [ReceivedLineInput!]!, $key: String) {
  receiveReturn(rmaId: $rma, lines: $lines, idempotencyKey: $key) {
    __typename
    ... on ReturnReceived { returnAuthorization { id status } receipt { id
          lines { sku quantity { value } disposition bin } } }
    ... on ReturnNotFound { rmaId message }
    ... on AlreadyReceived { rmaId receiptId message }
    ... on ExceedsAuthorization { rmaId sku authorized received message }
  }
}"""


def line(number: int, quantity: int, reason: str = "DAMAGED") -> dict[str, Any]:
    return {"lineNumber": number, "quantity": quantity, "reason": reason}


def request_return(
    gateway: RunningGateway,
    client: str,
    order: str,
    lines: list[dict[str, Any]],
    key: str | None = None,
    **options: Any,
) -> dict[str, Any]:
    variables = {"order": order, "lines": lines, "key": key}
    return answer(gateway, client, REQUEST, variables, **options)


def receive_return(
    gateway: RunningGateway, client: str, rma: str, lines: list[dict[str, Any]], key: str
) -> dict[str, Any]:
    return answer(gateway, client, RECEIVE, {"rma": rma, "lines": lines, "key": key})


def events_about(gateway: RunningGateway, rma_id: str) -> list[dict[str, Any]]:
    """The events the gateway's log holds about one return, in log order."""
    with sqlite3.connect(database_of(gateway)) as connection:
        rows = connection.execute(
            "SELECT envelope FROM event_log WHERE aggregate_id = ? ORDER BY position", (rma_id,)
        ).fetchall()
    return [orjson.loads(row[0]) for row in rows]


def test_an_anonymous_caller_is_refused_before_anything_runs(gateway: RunningGateway) -> None:
    for query in ("{ returns { returns { id } } }", REQUEST):
        response = call(gateway, None, query, {"order": "SO-1", "lines": [line(10, 1)]})
        assert response.status_code == 401, response.text
        assert "Traceback" not in response.text


def test_a_portal_sees_its_seeded_returns_with_the_warehouses_word(
    gateway: RunningGateway,
) -> None:
    result = answer(
        gateway, "portal-c1001", f"{{ returns(first: 50) {{ returns {{ {RETURN_FIELDS} }} }} }}"
    )
    assert "errors" not in result, result
    returns = result["data"]["returns"]["returns"]
    assert {r["id"] for r in returns} >= {"RMA-400001", "RMA-400002", "RMA-400003"}
    by_id = {r["id"]: r for r in returns}
    assert by_id["RMA-400001"]["status"] == "AUTHORIZED" and by_id["RMA-400001"]["receipt"] is None
    assert by_id["RMA-400002"]["status"] == "IN_TRANSIT"
    inspected = by_id["RMA-400003"]
    assert inspected["status"] in ("RESTOCKED", "WRITTEN_OFF")
    assert inspected["receipt"]["warehouseId"] == "WH-AMS"
    assert {entry["disposition"] for entry in inspected["receipt"]["lines"]} <= {
        "RESTOCK",
        "WRITE_OFF",
    }
    assert all(r["order"]["id"].startswith("SO-") for r in returns)


def test_another_tenants_return_is_answered_as_one_that_does_not_exist(
    gateway: RunningGateway,
) -> None:
    query = "query($id: ID!) { returnAuthorization(id: $id) { id status } }"
    own = answer(gateway, "portal-c1002", query, {"id": "RMA-400004"})
    theirs = answer(gateway, "portal-c1001", query, {"id": "RMA-400004"})
    missing = answer(gateway, "portal-c1001", query, {"id": "RMA-999999"})
    assert own["data"]["returnAuthorization"]["id"] == "RMA-400004"
    assert theirs == missing == {"data": {"returnAuthorization": None}}


def test_an_orders_returns_come_through_the_order_entity_in_one_listing(
    gateway: RunningGateway, sandbox: Sandbox
) -> None:
    wait_for_orders(gateway.graphql_url(), KEYS["portal-c1001"], "SO-100009")
    sandbox.clear_requests("erp", "wms")
    result = answer(
        gateway,
        "portal-c1001",
        "{ orders(first: 100) { orders { id returns { id status } } } }",
    )
    assert "errors" not in result, result
    orders = {o["id"]: o["returns"] for o in result["data"]["orders"]["orders"]}
    assert [r["id"] for r in orders["SO-100009"]] == ["RMA-400001"]
    assert all(isinstance(found, list) for found in orders.values())
    listings = [r for r in sandbox.requests("erp") if r["path"] == "/api/v1/return-orders"]
    receipts = [r for r in sandbox.requests("wms") if r["path"] == "/v2/returns"]
    assert (len(listings), len(receipts)) == (1, 1), (listings, receipts)


def test_a_return_is_requested_once_whatever_the_retries(
    gateway: RunningGateway, sandbox: Sandbox
) -> None:
    order = asyncio.run(shipped_order(sandbox, "C-1001", [("MAT-0011", 5), ("MAT-0012", 1)]))
    wait_for_orders(gateway.graphql_url(), KEYS["portal-c1001"], order["doc_no"])
    key = new_key()
    first = request_return(gateway, "portal-c1001", order["doc_no"], [line(10, 2)], key)
    assert "errors" not in first, first
    requested = first["data"]["requestReturn"]
    assert requested["__typename"] == "ReturnRequested"
    authorization = requested["returnAuthorization"]
    assert (authorization["status"], authorization["order"]["id"]) == (
        "AUTHORIZED",
        order["doc_no"],
    )
    assert authorization["lines"] == [
        {
            "orderLine": 10,
            "sku": "MAT-0011",
            "quantity": {"value": "2", "unit": "EA"},
            "reason": "DAMAGED",
        }
    ]
    by_header = request_return(
        gateway, "portal-c1001", order["doc_no"], [line(10, 2)], headers={"Idempotency-Key": key}
    )
    assert by_header == first
    listed = answer(
        gateway,
        "portal-c1001",
        "query($id: ID!) { order(id: $id) { returns { id } } }",
        {"id": order["doc_no"]},
    )
    assert listed["data"]["order"]["returns"] == [{"id": authorization["id"]}]
    announced = events_about(gateway, authorization["id"])
    assert [(e["event_type"], e["tenant_id"]) for e in announced] == [
        ("return.authorized", "C-1001")
    ]
    assert announced[0]["payload"]["lines"][0] == {
        "order_line": 10,
        "sku": "MAT-0011",
        "quantity": "2",
        "unit": "EA",
        "reason": "DAMAGED",
    }
    more = request_return(gateway, "portal-c1001", order["doc_no"], [line(10, 4)], new_key())
    exceeding = more["data"]["requestReturn"]
    assert exceeding["__typename"] == "QuantityExceedsShipped"
    assert exceeding["lines"] == [
        {
            "lineNumber": 10,
            "sku": "MAT-0011",
            "shipped": "5",
            "alreadyReturned": "2",
            "requested": "4",
        }
    ]


def test_requests_the_erp_refuses_are_typed_answers(
    gateway: RunningGateway, sandbox: Sandbox
) -> None:
    theirs = asyncio.run(shipped_order(sandbox, "C-1002", [("MAT-0013", 1)]))
    not_theirs = request_return(gateway, "portal-c1001", theirs["doc_no"], [line(10, 1)], new_key())
    missing = request_return(gateway, "portal-c1001", "SO-999999", [line(10, 1)], new_key())
    assert not_theirs["data"]["requestReturn"]["__typename"] == "OrderNotFound"
    assert missing["data"]["requestReturn"]["message"] == "no order SO-999999"
    assert not_theirs["data"]["requestReturn"]["message"] == f"no order {theirs['doc_no']}"
    closed = request_return(gateway, "portal-c1001", "SO-100009", [line(10, 1)], new_key())
    assert closed["data"]["requestReturn"]["__typename"] == "ReturnWindowClosed"
    assert closed["data"]["requestReturn"]["closedOn"] < str(__import__("datetime").date.today())
    own = asyncio.run(shipped_order(sandbox, "C-1002", [("MAT-0014", 1)]))
    no_line = request_return(gateway, "portal-c1002", own["doc_no"], [line(70, 1)], new_key())
    assert no_line["data"]["requestReturn"] == {
        "__typename": "OrderLineNotFound",
        "orderId": own["doc_no"],
        "lineNumber": 70,
        "message": f"order {own['doc_no']} has no line 70",
    }


@pytest.mark.parametrize(
    ("variables", "headers", "fragment"),
    [
        (
            {"order": "../customers/C-1002", "lines": [line(10, 1)], "key": "key-12345678"},
            {},
            "orderId",
        ),
        ({"order": "SO-1", "lines": [line(10, 0)], "key": "key-12345678"}, {}, "quantity"),
        ({"order": "SO-1", "lines": [line(10, 10**6)], "key": "key-12345678"}, {}, "quantity"),
        ({"order": "SO-1", "lines": [line(-1, 1)], "key": "key-12345678"}, {}, "lineNumber"),
        ({"order": "SO-1", "lines": [], "key": "key-12345678"}, {}, "1 to 50 lines"),
        ({"order": "SO-1", "lines": [line(10, 1)] * 51, "key": "key-12345678"}, {}, "1 to 50"),
        ({"order": "SO-1", "lines": [line(10, 1)], "key": None}, {}, "key is required"),
        ({"order": "SO-1", "lines": [line(10, 1)], "key": "short"}, {}, "8 to 128"),
        ({"order": "SO-1", "lines": [line(10, 1)], "key": "k" * 129}, {}, "8 to 128"),
        (
            {"order": "SO-1", "lines": [line(10, 1)], "key": "key-12345678"},
            {"Idempotency-Key": "key-87654321"},
            "differ",
        ),
    ],
)
def test_malformed_and_oversized_requests_never_reach_a_backend(
    gateway: RunningGateway,
    sandbox: Sandbox,
    variables: dict[str, Any],
    headers: dict[str, str],
    fragment: str,
) -> None:
    sandbox.clear_requests("erp", "wms")
    result = answer(gateway, "portal-c1001", REQUEST, variables, headers=headers)
    assert result["data"] is None or result["data"]["requestReturn"] is None, result
    assert codes(result) == {"BAD_USER_INPUT"}, result
    assert fragment in result["errors"][0]["message"]
    assert callers_requests(sandbox, "erp") == callers_requests(sandbox, "wms") == []


def test_a_malformed_quantity_or_reason_is_refused_by_the_schema(gateway: RunningGateway) -> None:
    for bad in ({"lineNumber": 10, "quantity": "2", "reason": "DAMAGED"},
                {"lineNumber": 10, "quantity": 2, "reason": "BORED"},
                {"lineNumber": 10, "quantity": 2**40, "reason": "DAMAGED"}):  # fmt: skip
        response = call(
            gateway, "portal-c1001", REQUEST, {"order": "SO-1", "lines": [bad], "key": new_key()}
        )
        assert response.status_code in (200, 400), response.text
        assert response.json()["errors"], response.text
        assert "Traceback" not in response.text


def unauthorized(field: str) -> dict[str, Any]:
    return {
        "message": "Unauthorized field or type",
        "path": [field],
        "extensions": {"code": "UNAUTHORIZED_FIELD_OR_TYPE"},
    }


def test_writes_need_their_scope(gateway: RunningGateway) -> None:
    reader = request_return(gateway, "reader-c1001", "SO-1", [line(10, 1)], new_key())
    portal = receive_return(
        gateway,
        "portal-c1001",
        "RMA-400001",
        [{"sku": "MAT-0025", "quantity": 1, "disposition": "RESTOCK"}],
        new_key(),
    )
    # The router removes each mutation its scope does not allow before planning.
    assert codes(reader) == codes(portal) == {"UNAUTHORIZED_FIELD_OR_TYPE"}
    assert reader == {"data": {}, "errors": [unauthorized("requestReturn")]}
    assert portal == {"data": {}, "errors": [unauthorized("receiveReturn")]}


def test_an_expensive_listing_is_refused_or_bounded(
    gateway: RunningGateway, sandbox: Sandbox
) -> None:
    too_big = answer(gateway, "portal-c1001", "{ returns(first: 1000) { returns { id } } }")
    assert codes(too_big) == {"BAD_USER_INPUT"}
    aliases = " ".join(
        f"r{i}: returns(first: 100) {{ returns {{ receipt {{ id }} }} }}" for i in range(40)
    )
    sandbox.clear_requests("erp", "wms")
    flood = call(gateway, "portal-c1001", f"{{ {aliases} }}").json()
    assert flood.get("data") is None and "aliases" in flood["errors"][0]["message"], flood
    assert callers_requests(sandbox, "erp") == callers_requests(sandbox, "wms") == []
    sandbox.clear_requests("wms")
    page = answer(
        gateway, "portal-c1001", "{ returns(first: 100) { returns { status receipt { id } } } }"
    )
    assert "errors" not in page, page
    assert len([r for r in sandbox.requests("wms") if r["path"] == "/v2/returns"]) == 1


@pytest.fixture
def wms_pushes_to_gateway(gateway: RunningGateway, sandbox: Sandbox) -> Iterator[None]:
    sandbox.set_webhook("wms", gateway.webhook_url("wms"), WMS_SECRET)
    yield
    sandbox.set_webhook("wms", None)


@needs_warehouse_clients
def test_a_warehouse_receives_a_return_once_and_its_events_reach_the_log(
    gateway: RunningGateway, sandbox: Sandbox, wms_pushes_to_gateway: None
) -> None:
    order = asyncio.run(shipped_order(sandbox, "C-1001", [("MAT-0021", 3)]))
    requested = request_return(gateway, "portal-c1001", order["doc_no"], [line(10, 3)], new_key())
    rma = requested["data"]["requestReturn"]["returnAuthorization"]
    assert rma["warehouseId"] == "WH-AMS", rma
    graded = [
        {"sku": "MAT-0021", "quantity": 2, "disposition": "RESTOCK"},
        {"sku": "MAT-0021", "quantity": 1, "disposition": "WRITE_OFF"},
    ]
    elsewhere = receive_return(gateway, "dock-rtm", rma["id"], graded, new_key())
    assert elsewhere["data"]["receiveReturn"]["__typename"] == "ReturnNotFound", elsewhere
    too_many = receive_return(
        gateway, "dock-ams", rma["id"], [{**graded[0], "quantity": 4}], new_key()
    )
    assert too_many["data"]["receiveReturn"] == {
        "__typename": "ExceedsAuthorization", "rmaId": rma["id"], "sku": "MAT-0021",
        "authorized": "3", "received": "4",
        "message": f"{rma['id']} authorizes 3 of MAT-0021, not 4",
    }  # fmt: skip
    key = new_key()
    first = receive_return(gateway, "dock-ams", rma["id"], graded, key)
    again = receive_return(gateway, "dock-ams", rma["id"], graded, key)
    assert "errors" not in first, first
    assert first == again
    received = first["data"]["receiveReturn"]
    assert received["__typename"] == "ReturnReceived"
    assert received["returnAuthorization"]["status"] == "RESTOCKED"
    assert [entry["disposition"] for entry in received["receipt"]["lines"]] == [
        "RESTOCK",
        "WRITE_OFF",
    ]
    twice = receive_return(gateway, "dock-ams", rma["id"], graded, new_key())
    assert twice["data"]["receiveReturn"]["__typename"] == "AlreadyReceived"
    assert twice["data"]["receiveReturn"]["receiptId"] == received["receipt"]["id"]
    for _ in range(100):
        kinds = [e["event_type"] for e in events_about(gateway, rma["id"])]
        if len(kinds) >= 3:
            break
        asyncio.run(asyncio.sleep(0.1))
    assert kinds == ["return.authorized", "return.received", "return.inspected"]
    events = events_about(gateway, rma["id"])
    assert {e["tenant_id"] for e in events} == {"C-1001"}
    assert events[2]["payload"]["status"] == "RESTOCKED"


@needs_warehouse_clients
def test_another_tenants_return_is_not_found_at_the_dock(gateway: RunningGateway) -> None:
    result = receive_return(
        gateway,
        "dock-rtm",
        "RMA-400004",
        [{"sku": "MAT-0288", "quantity": 1, "disposition": "WRITE_OFF"}],
        new_key(),
    )
    missing = receive_return(
        gateway,
        "dock-rtm",
        "RMA-999999",
        [{"sku": "MAT-0288", "quantity": 1, "disposition": "WRITE_OFF"}],
        new_key(),
    )
    assert result["data"]["receiveReturn"]["__typename"] == "ReturnNotFound"
    assert result["data"]["receiveReturn"]["message"].replace("RMA-400004", "X") == (
        missing["data"]["receiveReturn"]["message"].replace("RMA-999999", "X")
    )
