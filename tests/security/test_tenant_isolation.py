"""Tenant isolation on every entry point: the demo portal of C-1001 uses C-1002's ids.

A real gateway process (the embedded demo clients: portal-c1001 with demo-key-c1001,
portal-c1002 with demo-key-c1002) runs in front of the reference backends. C-1002's ids are
found through C-1002's own portal; C-1001's portal then tries each root query, mutation and
subscription field with them (subscriptions over WebSocket and SSE), and each answer must be
exactly the answer for an id that does not exist. Entity fetches (`_entities`) are not
reachable by clients at all. The entry points are enumerated from the composed schema: a new
root field without a case here fails `test_every_root_field_has_an_isolation_case`.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from graphql import build_schema
from websockets.asyncio.client import connect

from federation.composition import compose_from_config
from gateway.config import DEMO_CLIENTS
from tests.gateway.conftest import (
    READ_MODEL_WAIT_S,
    RunningGateway,
    gateway_process,
    wait_for_orders,
    write_config,
)
from tests.sandbox_processes import Sandbox, free_port

ROOT = Path(__file__).resolve().parents[2]
MINE = DEMO_CLIENTS["portal-c1001"].api_key
THEIRS = DEMO_CLIENTS["portal-c1002"].api_key
assert DEMO_CLIENTS["portal-c1001"].tenant != DEMO_CLIENTS["portal-c1002"].tenant
MISSING_ORDER = "SO-999999"
PROTOCOL = "graphql-transport-ws"
SILENT = {"silent": True}
"""What a subscription that sends nothing within the wait is recorded as."""


@pytest.fixture(scope="module")
def gateway(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    directory = tmp_path_factory.mktemp("tenant-isolation")
    port = free_port()
    config = directory / "gateway.toml"
    write_config(config, sandbox, port, directory / "gateway.sqlite3")
    # The embedded demo clients (and their demo keys) instead of the test clients.
    text = re.sub(r"\n\[clients\.[^\]]+\]\n(?:[a-z_0-9]+ = [^\n]*\n)*", "\n", config.read_text())
    config.write_text(text)
    with gateway_process(config, port) as running:
        yield running


def post(gateway: RunningGateway, key: str, query: str, variables: dict | None = None) -> dict:
    response = httpx.post(
        gateway.graphql_url(),
        json={"query": query, "variables": variables or {}},
        headers={"X-API-Key": key},
        timeout=30.0,
    )
    assert response.status_code in (200, 400), response.text
    return response.json()


class Foreign:
    """C-1002's records, found through C-1002's own portal."""

    def __init__(self, gateway: RunningGateway) -> None:
        self.orders = wait_for_orders(gateway.graphql_url(), THEIRS, at_least=2)
        assert wait_for_orders(gateway.graphql_url(), MINE), "C-1001 holds orders too"
        self.order = self.orders[0]
        self.tracking, self.invoice = self._shipped(gateway)
        returns = post(gateway, THEIRS, "{ returns(first: 20) { returns { id } } }")
        self.rma = returns["data"]["returns"]["returns"][0]["id"]
        self.orders_cursor = post(gateway, THEIRS, "{ orders(first: 1) { nextCursor } }")["data"][
            "orders"
        ]["nextCursor"]
        self.returns_cursor = post(gateway, THEIRS, "{ returns(first: 1) { nextCursor } }")["data"][
            "returns"
        ]["nextCursor"]
        self.sku = "MAT-0001"

    def _shipped(self, gateway: RunningGateway) -> tuple[str, str]:
        query = """{ orders(first: 100) { orders { id shipments { trackingNumber }
                     invoices { id } } } }"""
        deadline = time.monotonic() + READ_MODEL_WAIT_S
        while True:
            orders = post(gateway, THEIRS, query)["data"]["orders"]["orders"]
            tracking = [s["trackingNumber"] for o in orders for s in o["shipments"] or ()]
            invoices = [i["id"] for o in orders for i in o["invoices"] or ()]
            if (tracking and invoices) or time.monotonic() > deadline:
                assert tracking and invoices, "C-1002 has no shipment or invoice to try"
                return tracking[0], invoices[0]
            time.sleep(0.5)


@pytest.fixture(scope="module")
def foreign(gateway: RunningGateway) -> Foreign:
    return Foreign(gateway)


def same_as_missing(
    gateway: RunningGateway, query: str, theirs: dict, missing: dict, *, exists: bool = False
) -> dict:
    """C-1001's answer with C-1002's values equals its answer with values that exist nowhere
    (values in messages put back to the missing ones), so it holds nothing of C-1002's;
    ``exists``: the same values do answer C-1002 (the case is not vacuous)."""
    foreign_answer = post(gateway, MINE, query, theirs)
    missing_answer = post(gateway, MINE, query, missing)
    assert _as_missing(foreign_answer, theirs, missing) == missing_answer, (
        foreign_answer,
        missing_answer,
    )
    if exists:
        assert post(gateway, THEIRS, query, theirs) != foreign_answer
    return foreign_answer


def _as_missing(answer: dict, theirs: dict, missing: dict) -> dict:
    text = orjson.dumps(answer).decode()
    for name, value in theirs.items():
        if value is not None:
            text = text.replace(str(value), str(missing[name]))
    return orjson.loads(text)


def refused(answer: dict, field: str) -> None:
    assert answer == {
        "data": {},
        "errors": [
            {
                "message": "Unauthorized field or type",
                "path": [field],
                "extensions": {"code": "UNAUTHORIZED_FIELD_OR_TYPE"},
            }
        ],
    }


# -- queries ----------------------------------------------------------------------------------


def query_order(gateway: RunningGateway, foreign: Foreign) -> None:
    query = (
        "query($v: ID!) { order(id: $v) { id status lines { lineNumber item { sku } } "
        "shipments { status } } }"
    )
    answer = same_as_missing(
        gateway, query, {"v": foreign.order}, {"v": MISSING_ORDER}, exists=True
    )
    assert answer == {"data": {"order": None}}


def query_orders(gateway: RunningGateway, foreign: Foreign) -> None:
    mine = post(gateway, MINE, "{ orders(first: 100) { orders { id customerId } } }")
    listed = mine["data"]["orders"]["orders"]
    assert listed and not {o["id"] for o in listed} & set(foreign.orders)
    assert {o["customerId"] for o in listed} == {"C-1001"}
    query = "query($v: String) { orders(first: 5, after: $v) { orders { id } } }"
    answer = same_as_missing(
        gateway, query, {"v": foreign.orders_cursor}, {"v": "not-a-cursor-we-issued"}
    )
    assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def query_me(gateway: RunningGateway, foreign: Foreign) -> None:
    mine = post(gateway, MINE, "{ me { id name } }")["data"]["me"]
    theirs = post(gateway, THEIRS, "{ me { id name } }")["data"]["me"]
    assert mine["id"] == "C-1001" and theirs["id"] == "C-1002"


def query_invoice(gateway: RunningGateway, foreign: Foreign) -> None:
    query = "query($v: ID!) { invoice(id: $v) { id gross { amount } } }"
    answer = same_as_missing(
        gateway, query, {"v": foreign.invoice}, {"v": "INV-999999"}, exists=True
    )
    assert answer == {"data": {"invoice": None}}


def query_shipment(gateway: RunningGateway, foreign: Foreign) -> None:
    query = "query($v: String!) { shipment(trackingNumber: $v) { trackingNumber order { id } } }"
    missing = {"v": "SP0000000000"}
    answer = same_as_missing(gateway, query, {"v": foreign.tracking}, missing, exists=True)
    assert answer == {"data": {"shipment": None}}


def query_return_authorization(gateway: RunningGateway, foreign: Foreign) -> None:
    query = "query($v: ID!) { returnAuthorization(id: $v) { id status order { id } } }"
    answer = same_as_missing(gateway, query, {"v": foreign.rma}, {"v": "RMA-999999"}, exists=True)
    assert answer == {"data": {"returnAuthorization": None}}


def query_returns(gateway: RunningGateway, foreign: Foreign) -> None:
    mine = post(gateway, MINE, "{ returns(first: 100) { returns { id } } }")
    assert foreign.rma not in {r["id"] for r in mine["data"]["returns"]["returns"]}
    query = "query($v: String) { returns(first: 5, after: $v) { returns { id } } }"
    assert foreign.returns_cursor, "C-1002 has more than one return"
    answer = same_as_missing(
        gateway, query, {"v": foreign.returns_cursor}, {"v": "not-a-cursor-we-issued"}
    )
    assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def query_workflow(gateway: RunningGateway, foreign: Foreign) -> None:
    query = "query($v: ID!) { workflow(id: $v) { id state steps { name } } }"
    theirs = {"v": f"order-to-ship.{foreign.order}"}
    answer = same_as_missing(gateway, query, theirs, {"v": f"order-to-ship.{MISSING_ORDER}"})
    assert answer == {"data": {"workflow": None}}


def query_inventory(gateway: RunningGateway, foreign: Foreign) -> None:
    """Stock is not a tenant's (every portal reads it); its page cursors are."""
    query = f'query($v: String) {{ inventory(sku: "{foreign.sku}", first: 1, after: $v)'
    query += " { nextCursor } }"
    deadline = time.monotonic() + READ_MODEL_WAIT_S
    while True:  # the stock sweep fills the read model after the start
        theirs = post(gateway, THEIRS, query, {"v": None})["data"]["inventory"]["nextCursor"]
        if theirs or time.monotonic() > deadline:
            assert theirs, "the stock listing never had a second page"
            break
        time.sleep(0.5)
    answer = same_as_missing(gateway, query, {"v": theirs}, {"v": "not-a-cursor-we-issued"})
    assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


# -- mutations --------------------------------------------------------------------------------


def mutation_request_return(gateway: RunningGateway, foreign: Foreign) -> None:
    query = """mutation($v: ID!, $k: String!) { requestReturn(orderId: $v, idempotencyKey: $k,
        lines: [{lineNumber: 10, quantity: 1, reason: DAMAGED}]) { __typename
        ... on OrderNotFound { message } } }"""
    theirs = {"v": foreign.order, "k": "isolation-key-theirs"}
    missing = {"v": MISSING_ORDER, "k": "isolation-key-missing"}
    answer = same_as_missing(gateway, query, theirs, missing)
    assert answer["data"]["requestReturn"]["__typename"] == "OrderNotFound"


WAREHOUSE_MUTATIONS = {
    "receiveReturn": 'receiveReturn(rmaId: "{rma}", idempotencyKey: "isolation-key-1",'
    ' lines: [{{sku: "MAT-0001", quantity: 1, disposition: RESTOCK}}]) {{ __typename }}',
    "confirmPick": 'confirmPick(taskId: "T-{order}", idempotencyKey: "isolation-key-2")'
    " {{ __typename }}",
    "confirmPack": 'confirmPack(taskId: "T-{order}", idempotencyKey: "isolation-key-3")'
    " {{ __typename }}",
    "adjustStock": 'adjustStock(warehouseId: "WH-AMS", bin: "A-01", sku: "MAT-0001", delta: 1,'
    ' reason: COUNT, idempotencyKey: "isolation-key-4") {{ __typename }}',
}


def warehouse_mutation(field: str) -> Callable[[RunningGateway, Foreign], None]:
    """A portal has no warehouse scope: the router removes the write before any call."""

    def check(gateway: RunningGateway, foreign: Foreign) -> None:
        body = WAREHOUSE_MUTATIONS[field].format(rma=foreign.rma, order=foreign.order)
        refused(post(gateway, MINE, "mutation { " + body + " }"), field)

    return check


# -- subscriptions ----------------------------------------------------------------------------


async def _first_over_websocket(gateway: RunningGateway, query: str, variables: dict) -> dict:
    async with connect(
        gateway.graphql_url().replace("http://", "ws://", 1),
        subprotocols=[PROTOCOL],  # type: ignore[list-item]
        additional_headers={"X-API-Key": MINE},
    ) as socket:
        await socket.send(orjson.dumps({"type": "connection_init"}).decode())
        assert orjson.loads(await socket.recv()) == {"type": "connection_ack"}
        message = {
            "id": "1",
            "type": "subscribe",
            "payload": {"query": query, "variables": variables},
        }
        await socket.send(orjson.dumps(message).decode())
        try:
            while True:
                received = orjson.loads(await asyncio.wait_for(socket.recv(), 3.0))
                if received.get("type") != "ping":
                    return received
        except TimeoutError:
            return SILENT


async def _first_over_sse(gateway: RunningGateway, query: str, variables: dict) -> dict:
    headers = {"accept": "text/event-stream", "X-API-Key": MINE}
    body = {"query": query, "variables": variables}

    async def first(response: httpx.Response) -> dict:
        async for line in response.aiter_lines():  # heartbeats are comments: skipped
            if line.startswith("data:") and line[5:].strip():
                return orjson.loads(line[5:])
        return SILENT

    async with (
        httpx.AsyncClient(timeout=10) as http,
        http.stream("POST", gateway.graphql_url(), json=body, headers=headers) as response,
    ):
        try:
            return await asyncio.wait_for(first(response), 3.0)
        except TimeoutError:
            return SILENT


def subscription(
    query: str, theirs: Callable[[Foreign], dict], missing: dict, code: str | None = None
) -> Callable[[RunningGateway, Foreign], None]:
    """Over WebSocket and SSE, C-1002's id gets what a missing id gets, and nothing of C-1002's."""

    def check(gateway: RunningGateway, foreign: Foreign) -> None:
        for first in (_first_over_websocket, _first_over_sse):
            foreign_values = theirs(foreign)
            got = asyncio.run(_bounded(first(gateway, query, foreign_values)))
            expected = asyncio.run(_bounded(first(gateway, query, missing)))
            assert _as_missing(got, foreign_values, missing) == expected, (first.__name__, got)
            if code is not None:  # not vacuous: the answer says the record is not there
                assert f'"code":"{code}"' in orjson.dumps(got).decode(), (first.__name__, got)

    return check


async def _bounded(call: Awaitable[dict]) -> dict:
    return await asyncio.wait_for(call, 20.0)


CASES: dict[str, Callable[[RunningGateway, Foreign], None]] = {
    "Query.order": query_order,
    "Query.orders": query_orders,
    "Query.me": query_me,
    "Query.invoice": query_invoice,
    "Query.shipment": query_shipment,
    "Query.returnAuthorization": query_return_authorization,
    "Query.returns": query_returns,
    "Query.workflow": query_workflow,
    "Query.inventory": query_inventory,
    "Mutation.requestReturn": mutation_request_return,
    **{f"Mutation.{field}": warehouse_mutation(field) for field in WAREHOUSE_MUTATIONS},
    "Subscription.shipmentUpdated": subscription(
        "subscription($t: String, $o: ID) { shipmentUpdated(trackingNumber: $t, orderId: $o)"
        " { eventId status shipment { trackingNumber } } }",
        lambda foreign: {"t": foreign.tracking, "o": None},
        {"t": "SP0000000000", "o": None},
        code="NOT_FOUND",
    ),
    "Subscription.orderStatusChanged": subscription(
        "subscription($o: ID!) { orderStatusChanged(orderId: $o) { eventId status } }",
        lambda foreign: {"o": foreign.order},
        {"o": MISSING_ORDER},
        code="NOT_FOUND",
    ),
    "Subscription.workflowChanged": subscription(
        "subscription($w: ID!) { workflowChanged(id: $w) { eventId state } }",
        lambda foreign: {"w": f"order-to-ship.{foreign.order}"},
        {"w": f"order-to-ship.{MISSING_ORDER}"},
    ),
    "Subscription.inventoryChanged": lambda gateway, foreign: None,
}
"""One isolation case per root field of the composed schema. `inventoryChanged` follows stock,
which belongs to no tenant (every portal reads it): there is no other tenant's id to try.
`workflowChanged` of a workflow that is not the caller's waits, silent, exactly as one of a
workflow that does not exist (workflows are off here, so neither tenant has one)."""


def _root_fields() -> set[str]:
    schema = build_schema(compose_from_config(ROOT / "subgraphs.toml").api_schema_sdl)
    roots = [schema.query_type, schema.mutation_type, schema.subscription_type]
    return {f"{root.name}.{field}" for root in roots if root is not None for field in root.fields}


def test_every_root_field_has_an_isolation_case() -> None:
    fields = _root_fields()
    assert set(CASES) == fields, (
        f"root fields without an isolation case: {sorted(fields - set(CASES))}; "
        f"cases for fields that are gone: {sorted(set(CASES) - fields)}"
    )


@pytest.mark.parametrize("entry_point", sorted(CASES))
def test_another_tenants_ids_answer_like_missing_ones(
    gateway: RunningGateway, foreign: Foreign, entry_point: str
) -> None:
    CASES[entry_point](gateway, foreign)


@pytest.mark.parametrize(
    "query",
    [
        "query($r: [_Any!]!) { _entities(representations: $r) { ... on Order { id } } }",
        "{ _service { sdl } }",
    ],
)
def test_entity_fetches_are_not_reachable_by_clients(
    gateway: RunningGateway, foreign: Foreign, query: str
) -> None:
    representations = [{"__typename": "Order", "id": foreign.order}]
    answer = post(gateway, MINE, query, {"r": representations})
    assert answer.get("data") is None and answer["errors"], answer
    assert foreign.order not in orjson.dumps(answer).decode()
