"""Identity across gateway processes: two `logistics-gateway run` processes share one PostgreSQL
database in front of the reference backends, and one OAuth issuer and signing key.

A partner's token from one process works on both, over HTTP and WebSocket, until it is revoked;
an API key made with `logistics-gateway keys create` works on both until `keys revoke`. A
revocation made elsewhere holds on a process within its `[api_keys] cache_s` (5 s here), and
ends the live connections it serves within `[subscriptions] credential_check_interval_s` more.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from gateway.oauth_config import DEMO_OAUTH_CLIENTS
from tests.conftest import fresh_postgres_database
from tests.gateway.conftest import API_KEYS, RunningGateway, gateway_process, write_config
from tests.sandbox_processes import Sandbox, free_port

PARTNER = "demo-partner-c1002"
SECRET = DEMO_OAUTH_CLIENTS[PARTNER].secret
ME = "{ me { id } }"
ISSUER = "https://gateway.example.test"
PARTNER_SECTION = f"""[oauth_clients.{PARTNER}]
tenant = "C-1002"
secret_hash = "{DEMO_OAUTH_CLIENTS[PARTNER].secret_hash}"
plan = "basic"
"""
LIVE_SECTION = """[subscriptions]
credential_check_interval_s = 0.5
"""
STOCK_CHANGES = 'subscription { inventoryChanged(sku: "SKU-LIVE-1") { eventId onHand } }'
REVOCATION_WAIT_S = 30.0
"""Generous: the bound is cache_s (5 s); a loaded machine may answer slowly."""


@pytest.fixture(scope="module")
def gateways(
    sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningGateway, RunningGateway, Path]]:
    with fresh_postgres_database() as database, ExitStack() as stack:
        running, configs = [], []
        for name in ("first", "second"):
            directory = tmp_path_factory.mktemp(f"identity-{name}")
            port = free_port()
            config = directory / "gateway.toml"
            write_config(
                config,
                sandbox,
                port,
                directory / "unused.sqlite3",
                polling=False,
                stores=f'database_url = "{database}"',
                extra=f'[oauth]\nissuer = "{ISSUER}"\n\n{PARTNER_SECTION}\n{LIVE_SECTION}',
                backend_timeout_s=8.0,
            )
            configs.append(config)
            running.append(stack.enter_context(gateway_process(config, port)))
        yield running[0], running[1], configs[0]


def me(gateway: RunningGateway, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(gateway.graphql_url(), json={"query": ME}, headers=headers, timeout=30)


def refused_eventually(gateway: RunningGateway, headers: dict[str, str]) -> httpx.Response:
    deadline = time.monotonic() + REVOCATION_WAIT_S
    while True:
        response = me(gateway, headers)
        if response.status_code == 401 or time.monotonic() > deadline:
            return response
        time.sleep(0.25)


async def websocket_me(gateway: RunningGateway, token: str) -> dict[str, object]:
    url = gateway.graphql_url().replace("http://", "ws://")
    async with connect(url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        await socket.send(orjson.dumps(init).decode())
        assert orjson.loads(await asyncio.wait_for(socket.recv(), 10))["type"] == "connection_ack"
        subscribe = {"id": "1", "type": "subscribe", "payload": {"query": ME}}
        await socket.send(orjson.dumps(subscribe).decode())
        return orjson.loads(await asyncio.wait_for(socket.recv(), 30))


def keys(config: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "keys", *arguments, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )


def test_a_partner_token_works_on_every_process_until_it_is_revoked(gateways):
    first, second, _ = gateways
    issued = httpx.post(
        f"{first.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(PARTNER, SECRET),
        timeout=30,
    )
    assert issued.status_code == 200, issued.text
    token = issued.json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    for gateway in (first, second):
        answer = me(gateway, bearer)
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"]["me"]["id"] == "C-1002"
    over_socket = asyncio.run(websocket_me(second, token))
    assert over_socket["payload"] == {"data": {"me": {"id": "C-1002"}}}, over_socket

    revoked = httpx.post(
        f"{first.url}/oauth/revoke", data={"token": token}, auth=(PARTNER, SECRET), timeout=30
    )
    assert revoked.status_code == 200, revoked.text
    assert me(first, bearer).status_code == 401  # the revoking process knows at once
    elsewhere = refused_eventually(second, bearer)
    assert elsewhere.status_code == 401, "the other process still accepts a revoked token"
    assert "the token has been revoked" in elsewhere.headers["www-authenticate"]
    with pytest.raises(ConnectionClosed) as closed:
        asyncio.run(websocket_me(second, token))
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    assert "the token has been revoked" in closed.value.rcvd.reason


def test_a_key_from_the_command_works_on_every_process_until_revoked(gateways):
    first, second, config = gateways
    created = keys(config, "create", "--client", "acme-freight", "--tenant", "C-1002", "--json")
    assert created.returncode == 0, created.stderr
    made = orjson.loads(created.stdout)
    api_key = made["api_key"]
    assert api_key.startswith(f"lgk_{made['key_id']}_") and made["plan"] == "basic"
    for gateway in (first, second):
        answer = me(gateway, {"X-API-Key": api_key})
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"]["me"]["id"] == "C-1002"
    listed = keys(config, "list", "--tenant", "C-1002", "--json")
    assert made["key_id"] in [key["key_id"] for key in orjson.loads(listed.stdout)]
    assert api_key not in listed.stdout and made["api_key"].split("_", 2)[2] not in listed.stdout
    revoked = keys(config, "revoke", made["key_id"])
    assert revoked.returncode == 0, revoked.stderr
    for gateway in (first, second):
        response = refused_eventually(gateway, {"X-API-Key": api_key})
        assert response.status_code == 401, "a revoked key still works"
        assert "the API key has been revoked" in response.json()["errors"][0]["message"]


async def open_subscription(gateway: RunningGateway, credential: dict[str, str]):  # type: ignore[no-untyped-def]
    """A WebSocket on `gateway` with an item's stock changes subscribed (none come)."""
    url = gateway.graphql_url().replace("http://", "ws://")
    socket = await connect(url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    init = {"type": "connection_init", "payload": credential}
    await socket.send(orjson.dumps(init).decode())
    assert orjson.loads(await asyncio.wait_for(socket.recv(), 10))["type"] == "connection_ack"
    subscribe = {"id": "stock", "type": "subscribe", "payload": {"query": STOCK_CHANGES}}
    await socket.send(orjson.dumps(subscribe).decode())
    return socket


async def closed_with(socket) -> tuple[int | None, str]:  # type: ignore[no-untyped-def]
    try:
        while True:
            message = orjson.loads(await asyncio.wait_for(socket.recv(), REVOCATION_WAIT_S))
            assert message["type"] == "ping", message  # the subscription itself stays silent
    except ConnectionClosed as closed:
        return (closed.rcvd.code, closed.rcvd.reason) if closed.rcvd else (None, "")


def test_an_oauth_client_revoked_on_one_process_ends_its_websocket_on_the_other(gateways):
    first, second, _ = gateways
    admin = {"X-API-Key": API_KEYS["ops"]}
    made = httpx.post(
        f"{first.url}/admin/keys",
        json={"kind": "oauth_client", "client": "live-partner", "scopes": ["read"]},
        headers=admin,
        timeout=30,
    )
    assert made.status_code == 201, made.text
    issued = httpx.post(
        f"{first.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(made.json()["client_id"], made.json()["client_secret"]),
        timeout=30,
    )
    assert issued.status_code == 200, issued.text
    token = issued.json()["access_token"]

    async def revoke_while_subscribed() -> tuple[tuple[int | None, str], float]:
        partner = await open_subscription(second, {"authorization": f"Bearer {token}"})
        portal = await open_subscription(second, {"x-api-key": API_KEYS["C-1001"]})
        try:
            revoked = await asyncio.to_thread(
                httpx.delete,
                f"{first.url}/admin/keys/{made.json()['key_id']}",
                headers=admin,
                timeout=30,
            )
            assert revoked.status_code == 200, revoked.text
            started = time.monotonic()
            closed = await closed_with(partner)
            waited_s = time.monotonic() - started
            await portal.send(orjson.dumps({"type": "ping"}).decode())
            while (answer := orjson.loads(await asyncio.wait_for(portal.recv(), 10)))[
                "type"
            ] == "ping":
                pass
            assert answer == {"type": "pong"}, "the unaffected client's connection ended too"
            return closed, waited_s
        finally:
            await partner.close()
            await portal.close()

    (code, reason), waited_s = asyncio.run(revoke_while_subscribed())
    assert (code, reason) == (4401, "the client has been revoked")
    assert waited_s < 5.0 + 0.5 + 3.0, f"ended {waited_s:.1f} s after the revocation"
