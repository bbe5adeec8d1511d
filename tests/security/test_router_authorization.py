"""The supergraph's access rules on every transport of the product app.

The built-in subgraphs declare their rules (`read` for portal reads, `warehouse` and the
`warehouse_staff` policy for warehouse writes, the `tenant_member` policy on tenant-owned
types); the router removes what a caller may not see before planning. The gateway app runs
under uvicorn on loopback with a real configuration and SQLite store, and no backends: what is
removed must never need one. Clients: a reader (`read`), a writer without `read`, and a reader
of a tenant the configured `tenant_member` policy leaves out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.testclient import TestClient
from websockets.asyncio.client import connect

from federation.router.streaming import StreamShutdown
from gateway.app import create_app
from gateway.config import ConfigError, load_config
from policies.principal import Principal
from tests.federation.streams import Served, serving
from tests.security.conftest import API_KEYS, client_settings, digest, gateway_config

PROTOCOL = "graphql-transport-ws"
WRITER_KEY = "key-for-a-writer-without-read"
OUTSIDER_KEY = "key-for-a-reader-outside-the-policy"
UNAUTHORIZED = "UNAUTHORIZED_FIELD_OR_TYPE"
ORDERS = "{ orders(first: 1) { orders { id } } }"
STATUS = 'subscription { orderStatusChanged(orderId: "SO-100001") { status } }'


def unauthorized(*path: str) -> dict[str, Any]:
    return {
        "message": "Unauthorized field or type",
        "path": list(path),
        "extensions": {"code": UNAUTHORIZED},
    }


def _config(directory: Path, **values: Any):
    clients = client_settings()
    clients["writer"] = {
        "tenant": "C-1001",
        "api_key_sha256": digest(WRITER_KEY),
        "scopes": ["write"],
    }
    clients["outsider"] = {"tenant": "C-1002", "api_key_sha256": digest(OUTSIDER_KEY)}
    values.setdefault(
        "authorization",
        {
            "policies": {
                "tenant_member": {"tenants": ["C-1001"]},
                "warehouse_staff": {},
                "admin": {},
            }
        },
    )
    return gateway_config(directory, clients=clients, **values)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    shutdown = StreamShutdown()
    app = create_app(_config(tmp_path_factory.mktemp("authorization")), shutdown=shutdown)
    with serving(app, shutdown) as served:
        yield served


async def post(gateway: Served, key: str, query: str, **extra: Any) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(
            gateway.http, json={"query": query, **extra}, headers={"x-api-key": key}
        )


async def test_a_client_without_the_read_scope_reads_nothing_over_post_and_get(gateway):
    posted = await post(gateway, WRITER_KEY, ORDERS)
    async with httpx.AsyncClient(timeout=10) as http:
        got = await http.get(
            gateway.http, params={"query": ORDERS}, headers={"x-api-key": WRITER_KEY}
        )
    for response in (posted, got):
        assert response.status_code == 200
        assert response.json() == {"data": {}, "errors": [unauthorized("orders")]}
    partial = await post(gateway, WRITER_KEY, "{ __typename me { name } }")
    assert partial.json() == {
        "errors": [unauthorized("me")],
        "data": {"__typename": "Query", "me": None},
    }


async def test_a_policy_from_the_configuration_decides_tenant_owned_types(gateway):
    query = '{ inventory(sku: "MAT-0001") { positions { bin } } order(id: "SO-1") { id } }'
    outsider = (await post(gateway, OUTSIDER_KEY, query)).json()
    assert outsider["data"]["order"] is None
    assert outsider["data"]["inventory"] == {"positions": []}
    assert unauthorized("order") in outsider["errors"]
    reader = (await post(gateway, API_KEYS["portal"], query)).json()
    assert not any(e["extensions"]["code"] == UNAUTHORIZED for e in reader.get("errors", []))


async def test_warehouse_writes_are_removed_for_a_portal(gateway):
    mutation = (
        'mutation { confirmPick(taskId: "T-1", idempotencyKey: "key-000001") { __typename } }'
    )
    answer = (await post(gateway, API_KEYS["portal"], mutation)).json()
    assert answer == {"data": {}, "errors": [unauthorized("confirmPick")]}


async def test_many_aliases_of_a_removed_field_cost_nothing_but_their_errors(gateway):
    aliases = " ".join(f"o{n}: orders {{ id }}" for n in range(29))
    answer = await post(
        gateway, OUTSIDER_KEY, "{ orders(first: 1) { nextCursor " + aliases + " } }"
    )
    assert answer.json() == {
        "errors": [unauthorized("orders", f"o{n}", "@") for n in range(29)],
        # `orders: [Order!]!` withheld nulls its page, as null propagation does
        "data": {"orders": None},
    }


async def test_a_fragment_spread_many_times_is_reported_once_per_path(gateway):
    fragments = "fragment F0 on OrderPage { orders { id } }\n"
    for level in range(1, 8):
        fragments += f"fragment F{level} on OrderPage {{ ...F{level - 1} ...F{level - 1} }}\n"
    document = "{ orders(first: 1) { nextCursor ...F7 } }\n" + fragments
    answer = (await post(gateway, OUTSIDER_KEY, document)).json()
    assert answer == {
        "errors": [unauthorized("orders", "orders", "@")],
        "data": {"orders": None},
    }


async def test_over_a_websocket_subscriptions_and_queries_are_filtered(gateway):
    async with connect(
        gateway.ws, subprotocols=[PROTOCOL], additional_headers={"x-api-key": WRITER_KEY}
    ) as socket:
        await socket.send(orjson.dumps({"type": "connection_init"}).decode())
        assert orjson.loads(await socket.recv()) == {"type": "connection_ack"}
        subscribe = {"id": "s", "type": "subscribe", "payload": {"query": STATUS}}
        await socket.send(orjson.dumps(subscribe).decode())
        refused = orjson.loads(await asyncio.wait_for(socket.recv(), 5))
        assert refused == {
            "id": "s",
            "type": "error",
            "payload": [unauthorized("orderStatusChanged")],
        }
        query = {"id": "q", "type": "subscribe", "payload": {"query": ORDERS}}
        await socket.send(orjson.dumps(query).decode())
        answered = orjson.loads(await asyncio.wait_for(socket.recv(), 5))
        assert answered == {
            "id": "q",
            "type": "next",
            "payload": {"data": {}, "errors": [unauthorized("orders")]},
        }


@pytest.mark.parametrize(
    "accept",
    ["text/event-stream", 'multipart/mixed;boundary="graphql";subscriptionSpec=1.0'],
)
async def test_sse_and_multipart_subscriptions_are_filtered(gateway, accept):
    headers = {"accept": accept, "x-api-key": WRITER_KEY}
    async with (
        httpx.AsyncClient(timeout=10) as http,
        http.stream("POST", gateway.http, json={"query": STATUS}, headers=headers) as response,
    ):
        body = b"".join([chunk async for chunk in response.aiter_bytes()])
    assert orjson.dumps(unauthorized("orderStatusChanged")) in body, body
    assert b'"status"' not in body


def test_an_undefined_policy_the_supergraph_uses_stops_the_start(tmp_path: Path) -> None:
    config = _config(tmp_path, authorization={"policies": {"admin": {}}})
    with pytest.raises(ConfigError) as refused, TestClient(create_app(config)):
        pass
    message = str(refused.value)
    assert "authorization.policies.tenant_member" in message
    assert "authorization.policies.warehouse_staff" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[authorization.policies.finance]\n",
            "authorization.policies.finance.rule (unset, so the policy's own name) names"
            " 'finance', which is not a registered rule",
        ),
        (
            "[authorization.policies.x]\nrule = 'root'\n",
            "authorization.policies.x.rule names 'root'",
        ),
        ("[authorization.policies.x]\nrule = 42\n", "authorization.policies.x.rule: Input"),
        (
            "[authorization.policies.x]\nrule = 'anyone'\nclients = []\n",
            "authorization.policies.x.clients",
        ),
        ("[authorization.policies.x]\nrule = 'anyone'\nwho = 1\n", "who: unknown key"),
        (f"[authorization.policies.{'p' * 65}]\nrule = 'anyone'\n", "a policy name is 1 to 64"),
        ('[authorization.policies."a b"]\nrule = "anyone"\n', "a policy name is 1 to 64"),
        (
            "[authorization.policies]\n"
            + "".join(f"p{n} = {{ rule = 'anyone' }}\n" for n in range(1001)),
            "at most 1000 policies",
        ),
    ],
)
def test_the_authorization_section_is_validated_naming_the_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as invalid:
        load_config(path)
    assert expected in str(invalid.value)


def test_a_configured_policy_narrows_its_rule(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(
        "[authorization.policies.finance]\nrule = 'anyone'\nclients = ['erp-partner']\n"
        "scopes = ['billing']\n"
    )
    authorizer = load_config(path).authorization.authorizer()
    partner = Principal("erp-partner", "C-1", frozenset({"billing"}))
    assert authorizer.decide(partner, {"finance", "admin"}) == {"finance"}
    assert authorizer.decide(Principal("erp-partner", "C-1"), {"finance"}) == frozenset()
    assert authorizer.decide(Principal("other", "C-1", frozenset({"billing"})), {"finance"}) == (
        frozenset()
    )


def test_resolvers_keep_their_own_scope_check_beneath_the_router(open_gateway) -> None:
    """Defence in depth: the warehouse subgraph, asked directly, still refuses a portal."""
    from resolvers.warehouse import schema

    client = open_gateway()
    runtime = client.app_state["runtime"]
    context = {
        "principal": Principal("portal", "C-1001", frozenset({"read"})),
        "services": runtime.services,
        "cursors": runtime.cursors,
    }
    mutation = (
        'mutation { confirmPick(taskId: "T-1", idempotencyKey: "key-000001") { __typename } }'
    )

    async def run() -> Any:
        return await schema.execute(mutation, context_value=context)

    result = client.portal.call(run)
    assert result.errors and result.errors[0].extensions["code"] == "FORBIDDEN"
    assert "warehouse scope" in result.errors[0].message
