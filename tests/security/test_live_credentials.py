"""Open live connections end once their credential is no longer valid, on every transport.

The gateway app (real configuration, SQLite store, a JWKS provider on loopback) runs under
uvicorn; real clients hold graphql-transport-ws, SSE and multipart subscriptions open (the
scripted source's ``hold``) while an API key issued through `/admin/keys` is revoked there,
or while a token's `exp` passes. Revocations are judged again every 0.2 s here
(`subscriptions.credential_check_interval_s`) with no credential cache (`api_keys.cache_s`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection

from federation.router.streaming import StreamShutdown
from gateway.app import create_app
from policies.api_keys import StoredCredentials, new_credential
from policies.authn import ApiKeyRegistry, Authenticated, Authenticator
from policies.live_credentials import LiveCredentials
from stores.bundle import Stores, open_stores
from tests.federation.streams import ScriptedSource, Served, serving
from tests.federation.test_streaming_http import MULTIPART, SSE, MultipartReader, read_sse
from tests.security.conftest import API_KEYS, gateway_config
from tests.security.test_subscription_authentication import (
    TICKS,
    close_code,
    init,
    receive,
    send,
)
from tests.security.token_issuer import (
    AUDIENCE,
    ISSUER,
    JwksServer,
    claims,
    new_key,
    serving_jwks,
    sign,
)

HELD = {"count": 1, "hold": True}
"""One event, then the subscription stays open (for a minute: far longer than any test)."""
CHECK_INTERVAL_S = 0.2
ENDED_WITHIN_S = 5.0
"""Generous: the bound is the interval; a loaded machine may answer slowly."""
SIGNING_KEY = new_key("EdDSA", "live-1")


@pytest.fixture(scope="module")
def provider() -> Iterator[JwksServer]:
    with serving_jwks([SIGNING_KEY]) as served:
        yield served


def serve_gateway(
    tmp_path_factory: pytest.TempPathFactory, provider: JwksServer, interval_s: float
) -> Iterator[tuple[Served, ScriptedSource]]:
    source = ScriptedSource()
    config = gateway_config(
        tmp_path_factory.mktemp("live-credentials"),
        subscriptions={"credential_check_interval_s": interval_s},
        api_keys={"cache_s": 0},
        jwt={"jwks_url": provider.url, "issuer": ISSUER, "audience": AUDIENCE, "leeway_s": 0},
    )
    shutdown = StreamShutdown()
    with serving(create_app(config, shutdown=shutdown, subscribe=source), shutdown) as served:
        yield served, source


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, provider) -> Iterator[tuple[Served, ScriptedSource]]:
    """Revocations are noticed within `CHECK_INTERVAL_S`."""
    yield from serve_gateway(tmp_path_factory, provider, CHECK_INTERVAL_S)


@pytest.fixture(scope="module")
def rarely_checking(tmp_path_factory, provider) -> Iterator[tuple[Served, ScriptedSource]]:
    """Credentials judged again only every hour: an expiry must end connections by itself."""
    yield from serve_gateway(tmp_path_factory, provider, 3600.0)


def admin_url(served: Served) -> str:
    return f"http://127.0.0.1:{served.port}/admin/keys"


async def issue_key(served: Served, client: str) -> tuple[str, str]:
    """A new API key of tenant C-1001 from `/admin/keys`: (key id, key)."""
    async with httpx.AsyncClient(timeout=10) as http:
        issued = await http.post(
            admin_url(served),
            json={"client": client, "scopes": ["read"]},
            headers={"X-API-Key": API_KEYS["operations"]},
        )
    assert issued.status_code == 201, issued.text
    return issued.json()["key_id"], issued.json()["api_key"]


async def revoke_key(served: Served, key_id: str) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        revoked = await http.delete(
            f"{admin_url(served)}/{key_id}", headers={"X-API-Key": API_KEYS["operations"]}
        )
    assert revoked.status_code == 200, revoked.text


async def held_subscription(served: Served, credential: dict[str, str]) -> ClientConnection:
    """A WebSocket with one subscription open, its first event received."""
    socket = await init(served, credential)
    assert await receive(socket) == {"type": "connection_ack"}
    await send(
        socket, {"id": "held", "type": "subscribe", "payload": {"query": TICKS, "variables": HELD}}
    )
    first = await receive(socket)
    assert first["type"] == "next" and first["payload"]["data"] == {"tick": 1}, first
    return socket


async def still_serves(socket: ClientConnection) -> None:
    """The connection answers a ping and runs a new subscription to its end."""
    await send(socket, {"type": "ping"})
    assert await receive(socket) == {"type": "pong"}
    body = {"query": TICKS, "variables": {"count": 2}}
    await send(socket, {"id": "again", "type": "subscribe", "payload": body})
    messages = [await receive(socket) for _ in range(3)]
    assert [message["type"] for message in messages] == ["next", "next", "complete"], messages


def bearer_token(expires_in_s: int, **overrides: Any) -> tuple[str, int]:
    expires_at = int(time.time()) + expires_in_s
    return sign(SIGNING_KEY, claims(exp=expires_at, **overrides)), expires_at


async def test_a_revoked_api_key_closes_its_websocket_with_4401_and_others_keep_theirs(gateway):
    served, _ = gateway
    key_id, api_key = await issue_key(served, "live-dashboard")
    _, other_key = await issue_key(served, "other-dashboard")
    revoked = await held_subscription(served, {"x-api-key": api_key})
    kept_issued = await held_subscription(served, {"x-api-key": other_key})
    kept_configured = await held_subscription(served, {"x-api-key": API_KEYS["portal"]})
    try:
        await revoke_key(served, key_id)
        started = time.monotonic()
        code, reason = await asyncio.wait_for(close_code(revoked), ENDED_WITHIN_S)
        assert (code, reason) == (4401, "the API key has been revoked")
        assert time.monotonic() - started < ENDED_WITHIN_S
        await asyncio.sleep(3 * CHECK_INTERVAL_S)  # several checks of the others' credentials
        for socket in (kept_issued, kept_configured):
            await still_serves(socket)
    finally:
        for socket in (revoked, kept_issued, kept_configured):
            await socket.close()


async def test_a_revoked_key_on_the_upgrade_closes_the_websocket_too(gateway):
    served, _ = gateway
    key_id, api_key = await issue_key(served, "upgrade-dashboard")
    socket = await init(served, None, {"X-API-Key": api_key})
    try:
        assert await receive(socket) == {"type": "connection_ack"}
        await revoke_key(served, key_id)
        code, reason = await asyncio.wait_for(close_code(socket), ENDED_WITHIN_S)
        assert (code, reason) == (4401, "the API key has been revoked")
    finally:
        await socket.close()


def unauthenticated(errors: list[dict[str, Any]]) -> str:
    """The message of the one UNAUTHENTICATED error a lapsed stream ends with."""
    assert len(errors) == 1 and errors[0]["extensions"] == {"code": "UNAUTHENTICATED"}, errors
    return errors[0]["message"]


async def test_a_revoked_api_key_ends_its_sse_stream_with_an_unauthenticated_error(gateway):
    served, _ = gateway
    key_id, api_key = await issue_key(served, "sse-dashboard")
    body = {"query": TICKS, "variables": HELD}
    headers = {**SSE, "X-API-Key": api_key}
    async with (
        httpx.AsyncClient(timeout=10) as http,
        http.stream("POST", served.http, json=body, headers=headers) as response,
    ):
        lines = response.aiter_lines()
        first = await read_sse(lines, stop_after=1)
        assert first.events[0].json() == {"data": {"tick": 1}, "extensions": {"eventId": "1"}}
        await revoke_key(served, key_id)
        rest = await asyncio.wait_for(read_sse(lines), ENDED_WITHIN_S)  # to the body's end
    assert [event.event for event in rest.events] == ["next", "complete"]
    message = unauthenticated(rest.events[0].json()["errors"])
    assert message == (
        "The connection's credential is no longer valid: the API key has been revoked. "
        "Reconnect with one."
    )


async def test_a_revoked_api_key_ends_its_multipart_stream_with_an_unauthenticated_error(gateway):
    served, _ = gateway
    key_id, api_key = await issue_key(served, "multipart-dashboard")
    body = {"query": TICKS, "variables": HELD}
    headers = {**MULTIPART, "X-API-Key": api_key}
    async with (
        httpx.AsyncClient(timeout=10) as http,
        http.stream("POST", served.http, json=body, headers=headers) as response,
    ):
        reader = MultipartReader(response)
        opening, first = await reader.read(stop_after=2)
        assert opening == {} and first["payload"]["data"] == {"tick": 1}
        await revoke_key(served, key_id)
        rest = await asyncio.wait_for(reader.read(), ENDED_WITHIN_S)
    parts = [part for part in rest if part != {}]  # heartbeats may come first
    assert parts[-1] == "END" and len(parts) == 2, parts
    assert parts[0]["payload"] is None
    assert "the API key has been revoked" in unauthenticated(parts[0]["errors"])


async def test_an_expiring_token_closes_its_websocket_when_exp_passes(rarely_checking):
    served, _ = rarely_checking
    token, expires_at = bearer_token(2)
    socket = await held_subscription(served, {"authorization": f"Bearer {token}"})
    try:
        code, reason = await asyncio.wait_for(close_code(socket), ENDED_WITHIN_S)
        closed_at = time.time()
    finally:
        await socket.close()
    assert (code, reason) == (4401, "the token has expired")
    assert expires_at - 0.05 <= closed_at < expires_at + 1.5, (closed_at, expires_at)


async def test_an_expiring_token_ends_its_sse_stream_when_exp_passes(rarely_checking):
    served, _ = rarely_checking
    token, expires_at = bearer_token(2)
    headers = {**SSE, "Authorization": f"Bearer {token}"}
    body = {"query": TICKS, "variables": HELD}
    async with (
        httpx.AsyncClient(timeout=10) as http,
        http.stream("POST", served.http, json=body, headers=headers) as response,
    ):
        ended = await asyncio.wait_for(read_sse(response), ENDED_WITHIN_S)
    assert time.time() >= expires_at - 0.05
    assert [event.event for event in ended.events] == ["next", "next", "complete"]
    assert "the token has expired" in unauthenticated(ended.events[1].json()["errors"])


async def test_a_long_lived_token_and_a_configured_key_stay_connected(rarely_checking):
    served, _ = rarely_checking
    token, _ = bearer_token(300)
    by_token = await held_subscription(served, {"authorization": f"Bearer {token}"})
    by_key = await held_subscription(served, {"x-api-key": API_KEYS["portal"]})
    try:
        await asyncio.sleep(1.0)
        for socket in (by_token, by_key):
            await still_serves(socket)
    finally:
        for socket in (by_token, by_key):
            await socket.close()


@pytest.fixture
async def issued_keys(tmp_path) -> AsyncIterator[tuple[Stores, Authenticator]]:
    """The stores of a gateway (SQLite) and its authenticator, no credential cache."""
    database = tmp_path / "keys.sqlite3"
    stores = await open_stores(f"sqlite+aiosqlite:///{database}")
    authenticator = Authenticator(
        ApiKeyRegistry(()), stored=StoredCredentials(stores.credentials, cache_s=0)
    )
    try:
        yield stores, authenticator
    finally:
        await stores.close()


async def issued_key(stores: Stores, lifetime: timedelta) -> str:
    issued = new_credential(
        "api_key",
        client="feed",
        tenant="C-1001",
        scopes=["read"],
        plan="standard",
        lifetime=lifetime,
    )
    await stores.credentials.add(issued.credential)
    return issued.api_key


async def test_an_issued_key_lapses_when_its_lifetime_ends_without_a_look_up(issued_keys):
    stores, authenticator = issued_keys
    decided = await authenticator.authenticate(await issued_key(stores, timedelta(seconds=1)))
    assert isinstance(decided, Authenticated) and decided.expires_at is not None
    lapse = LiveCredentials(authenticator, interval_s=3600).lapse_of(decided)
    assert lapse is not None
    assert await asyncio.wait_for(lapse(), 5) == "the API key has expired"
    assert time.time() >= decided.expires_at


async def test_a_judgement_the_database_cannot_answer_keeps_the_connection(
    issued_keys, tmp_path, caplog
):
    stores, authenticator = issued_keys
    decided = await authenticator.authenticate(await issued_key(stores, timedelta(days=1)))
    assert isinstance(decided, Authenticated)
    lapse = LiveCredentials(authenticator, interval_s=0.1).lapse_of(decided)
    assert lapse is not None
    await stores.close()
    next(tmp_path.glob("keys.sqlite3")).unlink()  # every later look-up finds no table
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(lapse(), 1.0)
    assert "could not judge a live connection's credential again" in caplog.text
