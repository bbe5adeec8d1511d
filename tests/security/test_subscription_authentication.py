"""Authentication and tenants on every subscription transport of the product app.

The gateway app (real configuration, SQLite store) runs under uvicorn on loopback; real
clients speak graphql-transport-ws, graphql-sse and multipart to it. Subscriptions come from
a scripted source with the router's ``subscribe`` signature, which records what each
subscription was started with: the principal its resolvers see, the sharing key, the
identity forwarded to subgraphs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from federation.router.streaming import StreamShutdown
from gateway.app import create_app
from policies.principal import Principal
from tests.federation.streams import ScriptedSource, Served, serving
from tests.security.conftest import API_KEYS, client_settings, digest, gateway_config

PROTOCOL = "graphql-transport-ws"
TICKS = "subscription { tick }"
OTHER_TENANT_KEY = "key-for-another-tenant"
PORTAL = Principal("portal", "C-1001", frozenset({"read"}))
OTHER = Principal("other-tenant", "C-1002", frozenset({"read"}))


@pytest.fixture(scope="module")
def source() -> ScriptedSource:
    return ScriptedSource()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, source: ScriptedSource) -> Iterator[Served]:
    clients = client_settings()
    clients["other-tenant"] = {"tenant": "C-1002", "api_key_sha256": digest(OTHER_TENANT_KEY)}
    config = gateway_config(
        tmp_path_factory.mktemp("subscriptions"),
        clients=clients,
        subscriptions={"connection_init_timeout_s": 2.0, "max_message_bytes": 4096},
    )
    shutdown = StreamShutdown()
    with serving(create_app(config, shutdown=shutdown, subscribe=source), shutdown) as served:
        yield served


async def send(socket: ClientConnection, message: dict[str, Any]) -> None:
    await socket.send(orjson.dumps(message).decode())


async def receive(socket: ClientConnection) -> dict[str, Any]:
    return orjson.loads(await asyncio.wait_for(socket.recv(), 5))


async def close_code(socket: ClientConnection) -> tuple[int | None, str]:
    try:
        while True:
            await asyncio.wait_for(socket.recv(), 5)
    except ConnectionClosed as closed:
        return (closed.rcvd.code, closed.rcvd.reason) if closed.rcvd else (None, "")


async def init(
    gateway: Served, payload: dict[str, Any] | None, headers: dict[str, str] | None = None
) -> ClientConnection:
    socket = await connect(
        gateway.ws,
        subprotocols=[PROTOCOL],
        additional_headers=headers,  # type: ignore[list-item]
    )
    message: dict[str, Any] = {"type": "connection_init"}
    if payload is not None:
        message["payload"] = payload
    await send(socket, message)
    return socket


async def subscribed_principal(socket: ClientConnection, source: ScriptedSource) -> Any:
    """Subscribe once; what the resolvers of that subscription would see as the caller."""
    assert await receive(socket) == {"type": "connection_ack"}
    await send(socket, {"id": "1", "type": "subscribe", "payload": {"query": TICKS}})
    messages = [await receive(socket) for _ in range(4)]
    assert messages[-1] == {"id": "1", "type": "complete"}
    call = source.calls[-1]
    return call.context["request"].state.principal, call


@pytest.mark.parametrize(
    "payload",
    [
        {"x-api-key": API_KEYS["portal"]},
        {"X-API-Key": API_KEYS["portal"]},
        {"authorization": f"Bearer {API_KEYS['portal']}"},
        {"Authorization": f"ApiKey {API_KEYS['portal']}"},
        {"headers": {"Authorization": f"Bearer {API_KEYS['portal']}"}},
    ],
)
async def test_a_browser_presents_its_key_in_connection_init(gateway, source, payload):
    async with await init(gateway, payload) as socket:
        principal, call = await subscribed_principal(socket, source)
    assert principal == PORTAL
    assert call.sharing_key == PORTAL.sharing_key()
    assert call.forwarded.identity_for("orders")  # a signed identity, not the key
    assert API_KEYS["portal"] not in orjson.dumps(call.forwarded.identity_for("orders")).decode()


async def test_a_key_on_the_upgrade_is_enough(gateway, source):
    async with await init(gateway, None, {"X-API-Key": API_KEYS["portal"]}) as socket:
        principal, _ = await subscribed_principal(socket, source)
    assert principal == PORTAL


async def test_tenants_get_their_own_principal_and_sharing_key(gateway, source):
    async with await init(gateway, {"x-api-key": OTHER_TENANT_KEY}) as socket:
        principal, call = await subscribed_principal(socket, source)
    assert principal == OTHER
    assert call.sharing_key != PORTAL.sharing_key() and "C-1002" in call.sharing_key


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (None, "API key is required"),
        ({}, "API key is required"),
        ({"x-api-key": "not-a-key"}, "invalid API key"),
        ({"authorization": "Bearer "}, "API key is required"),
        ({"x-api-key": 12345}, "must be a string"),
        (
            {"x-api-key": API_KEYS["portal"], "authorization": f"Bearer {OTHER_TENANT_KEY}"},
            "more than one API key",
        ),
    ],
)
async def test_an_anonymous_or_wrong_connection_init_closes_with_4401(gateway, payload, reason):
    async with await init(gateway, payload) as socket:
        code, text = await close_code(socket)
    assert code == 4401 and reason in text


async def test_another_clients_key_in_connection_init_is_forbidden(gateway):
    headers = {"X-API-Key": API_KEYS["portal"]}
    async with await init(gateway, {"x-api-key": OTHER_TENANT_KEY}, headers) as socket:
        code, text = await close_code(socket)
    assert code == 4403 and "another client" in text


async def test_the_same_key_on_both_is_accepted(gateway, source):
    headers = {"X-API-Key": API_KEYS["portal"]}
    async with await init(gateway, {"x-api-key": API_KEYS["portal"]}, headers) as socket:
        principal, _ = await subscribed_principal(socket, source)
    assert principal == PORTAL


async def test_a_wrong_key_on_the_upgrade_is_refused_before_upgrading(gateway):
    with pytest.raises(InvalidStatus) as refused:
        await connect(
            gateway.ws,
            subprotocols=[PROTOCOL],  # type: ignore[list-item]
            additional_headers={"X-API-Key": "not-a-key"},
        )
    assert refused.value.response.status_code == 401


async def test_nothing_runs_before_the_connection_is_authenticated(gateway, source):
    calls = len(source.calls)
    async with await connect(gateway.ws, subprotocols=[PROTOCOL]) as socket:  # type: ignore[list-item]
        await send(socket, {"id": "1", "type": "subscribe", "payload": {"query": TICKS}})
        code, _ = await close_code(socket)
    assert code == 4401 and len(source.calls) == calls


async def test_an_oversized_connection_init_closes_with_1009(gateway):
    async with await init(gateway, {"x-api-key": "k" * 5000}) as socket:
        code, _ = await close_code(socket)
    assert code == 1009


async def test_operations_over_the_socket_run_within_the_operation_limits(gateway):
    async with await init(gateway, {"x-api-key": API_KEYS["portal"]}) as socket:
        assert await receive(socket) == {"type": "connection_ack"}
        await send(socket, {"id": "q", "type": "subscribe", "payload": {"query": "{ __typename }"}})
        assert await receive(socket) == {
            "id": "q",
            "type": "next",
            "payload": {"data": {"__typename": "Query"}},
        }
        assert await receive(socket) == {"id": "q", "type": "complete"}
        aliases = "{ " + " ".join(f"a{n}: __typename" for n in range(40)) + " }"
        await send(socket, {"id": "a", "type": "subscribe", "payload": {"query": aliases}})
        refused = await receive(socket)
        assert refused["type"] == "error"
        assert refused["payload"][0]["extensions"]["code"] == "OPERATION_LIMIT_EXCEEDED"


@pytest.mark.parametrize(
    "accept",
    ["text/event-stream", 'multipart/mixed;boundary="graphql";subscriptionSpec=1.0'],
)
async def test_streams_over_http_need_a_key(gateway, source, accept):
    async with httpx.AsyncClient(timeout=10) as http:
        refused = await http.post(gateway.http, json={"query": TICKS}, headers={"accept": accept})
        assert refused.status_code == 401
        assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        headers = {"accept": accept, "x-api-key": OTHER_TENANT_KEY}
        async with http.stream("POST", gateway.http, json={"query": TICKS}, headers=headers) as r:
            assert r.status_code == 200
            body = b"".join([chunk async for chunk in r.aiter_bytes()])
    assert b'"eventId":"3"' in body
    call = source.calls[-1]
    assert call.context["request"].state.principal == OTHER
    assert call.sharing_key == OTHER.sharing_key()


async def test_sse_resume_id_reaches_the_router_for_the_callers_tenant(gateway, source):
    headers = {"accept": "text/event-stream", "x-api-key": API_KEYS["portal"], "last-event-id": "9"}
    async with (
        httpx.AsyncClient(timeout=10) as http,
        http.stream("GET", gateway.http, params={"query": TICKS}, headers=headers) as r,
    ):
        body = b"".join([chunk async for chunk in r.aiter_bytes()])
    assert b"id: 10\n" in body
    assert source.calls[-1].last_event_id == "9"
    assert source.calls[-1].context["request"].state.principal == PORTAL


def test_the_subscriptions_section_is_validated(tmp_path: Path) -> None:
    from gateway.config import ConfigError, load_config

    path = tmp_path / "gateway.toml"
    path.write_text("[subscriptions]\nmax_queued_events = 0\nheartbeat_s = -1\n")
    with pytest.raises(ConfigError) as invalid:
        load_config(path)
    assert "subscriptions.max_queued_events" in str(invalid.value)
    assert "subscriptions.heartbeat_s" in str(invalid.value)
