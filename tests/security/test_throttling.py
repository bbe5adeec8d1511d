"""Rate limits and open-subscription caps of the product app, over real HTTP and WebSockets.

The gateway app (real configuration, SQLite store, counters in memory) runs under uvicorn on
loopback; clients on small plans spend their quotas with real requests, upgrades, WebSocket
operations and SSE streams. Clients source from distinct loopback addresses (127.0.0.x) where
a test is about one address's failures. Subscriptions come from the scripted source.
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
from gateway.config import ConfigError, GatewayConfig, load_config
from tests.federation.streams import ScriptedSource, Served, serving
from tests.security.conftest import digest, gateway_config

PROTOCOL = "graphql-transport-ws"
QUERY = {"query": "{ __typename }"}
TICKS = "subscription { tick }"
CLIENTS = (
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "aliases",
    "batch",
    "sse",
    "streamer",
    "other-streamer",
)


def key(client: str) -> str:
    return f"key-of-{client}-0123456789"


def throttled(directory: Path, **values: Any) -> GatewayConfig:
    """A configuration with rate limits on (the test suite turns them off by default)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("LG_THROTTLING__ENABLED", raising=False)
        return gateway_config(directory, **values)


def settings() -> dict[str, Any]:
    clients: dict[str, dict[str, object]] = {
        name: {
            "tenant": "C-1002" if name in ("beta", "other-streamer") else "C-1001",
            "api_key_sha256": digest(key(name)),
            "plan": "streams" if "streamer" in name else "tiny",
        }
        for name in CLIENTS
    }
    clients["override"] = {
        "tenant": "C-1001",
        "api_key_sha256": digest(key("override")),
        "plan": "tiny",
        "rate_limits": ["3/minute"],
    }
    return {
        "clients": clients,
        "plans": {
            "standard": {},
            "tiny": {"rate_limits": ["5/minute"]},
            "streams": {"max_subscriptions": 2},
        },
        "throttling": {"unauthenticated_failures": ["4/minute"], "strategy": "moving-window"},
    }


@pytest.fixture(scope="module")
def source() -> ScriptedSource:
    return ScriptedSource()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, source: ScriptedSource) -> Iterator[Served]:
    config = throttled(tmp_path_factory.mktemp("throttling"), **settings())
    shutdown = StreamShutdown()
    with serving(create_app(config, shutdown=shutdown, subscribe=source), shutdown) as served:
        yield served


def http(address: str = "127.0.0.1") -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.AsyncHTTPTransport(local_address=address), timeout=10.0
    )


async def post(gateway: Served, client: str | None, body: object = QUERY, **headers: str):
    headers = {**({"x-api-key": key(client)} if client else {}), **headers}
    async with http() as session:
        return await session.post(gateway.http, json=body, headers=headers)


def remaining(response: httpx.Response) -> int:
    """`r` of the 60-second policy in the `RateLimit` header."""
    (item,) = [part for part in response.headers["ratelimit"].split(",") if '"60s"' in part]
    return int(item.split(";r=")[1].split(";")[0])


def assert_rate_limited(response: httpx.Response, quota: int) -> None:
    assert response.status_code == 429, response.text
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["ratelimit-policy"] == f'"60s";q={quota};w=60'
    assert remaining(response) == 0
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert f"at most {quota} requests per minute" in error["message"]


async def test_a_client_over_its_plan_gets_429_with_retry_after_and_the_ratelimit_headers(
    gateway: Served,
) -> None:
    answers = [await post(gateway, "alpha") for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert [remaining(a) for a in answers] == [4, 3, 2, 1, 0]
    assert all(a.headers["ratelimit-policy"] == '"60s";q=5;w=60' for a in answers)
    assert_rate_limited(await post(gateway, "alpha"), 5)
    async with http() as session:  # GET spends the same quota
        refused = await session.get(gateway.http, params=QUERY, headers={"x-api-key": key("alpha")})
    assert_rate_limited(refused, 5)


async def test_another_tenant_keeps_its_own_quota(gateway: Served) -> None:
    for _ in range(6):
        await post(gateway, "gamma")
    assert (await post(gateway, "gamma")).status_code == 429
    answer = await post(gateway, "beta")
    assert answer.status_code == 200 and remaining(answer) == 4


async def test_a_client_of_its_own_limits_is_held_to_them_not_to_its_plan(gateway: Served) -> None:
    answers = [await post(gateway, "override") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert_rate_limited(answers[-1], 3)


async def test_aliases_cost_one_request_and_do_not_get_past_the_limit(gateway: Served) -> None:
    aliased = {"query": "{ " + " ".join(f"a{n}: __typename" for n in range(25)) + " }"}
    first = await post(gateway, "aliases", aliased)
    assert first.status_code == 200 and remaining(first) == 4, "one request, however aliased"
    for _ in range(4):
        await post(gateway, "aliases", aliased)
    assert_rate_limited(await post(gateway, "aliases", aliased), 5)


async def test_a_batch_is_refused_and_counted_as_one_request(gateway: Served) -> None:
    batch = [QUERY] * 50
    answer = await post(gateway, "batch", batch)
    assert answer.status_code == 400 and remaining(answer) == 4
    for _ in range(4):
        await post(gateway, "batch", batch)
    assert_rate_limited(await post(gateway, "batch", batch), 5)


async def send(socket: ClientConnection, message: dict[str, Any]) -> None:
    await socket.send(orjson.dumps(message).decode())


async def receive(socket: ClientConnection) -> dict[str, Any]:
    return orjson.loads(await asyncio.wait_for(socket.recv(), 5))


async def connected(gateway: Served, client: str) -> ClientConnection:
    socket = await connect(
        gateway.ws, subprotocols=[PROTOCOL], additional_headers={"X-API-Key": key(client)}
    )
    await send(socket, {"type": "connection_init"})
    assert await receive(socket) == {"type": "connection_ack"}
    return socket


async def test_each_websocket_operation_spends_a_request(gateway: Served) -> None:
    async with await connected(gateway, "delta") as socket:  # the upgrade: 1 of 5
        outcomes = []
        for number in range(1, 6):
            await send(socket, {"id": str(number), "type": "subscribe", "payload": QUERY})
            first = await receive(socket)
            if first["type"] == "next":
                assert await receive(socket) == {"id": str(number), "type": "complete"}
            outcomes.append(first)
        assert [o["type"] for o in outcomes] == ["next"] * 4 + ["error"]
        (error,) = outcomes[-1]["payload"]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        await send(socket, {"type": "ping"})
        assert await receive(socket) == {"type": "pong"}, "the connection stays open"


async def test_many_connections_spend_the_same_quota(gateway: Served) -> None:
    opened = [await connected(gateway, "epsilon") for _ in range(5)]
    try:
        with pytest.raises(InvalidStatus) as refused:
            headers = {"X-API-Key": key("epsilon")}
            await connect(gateway.ws, subprotocols=[PROTOCOL], additional_headers=headers)
        response = refused.value.response
        assert response.status_code == 429
        assert b"RATE_LIMITED" in response.body
        assert int(response.headers["retry-after"]) >= 1
    finally:
        for socket in opened:
            await socket.close()


async def test_an_sse_subscription_spends_a_request(gateway: Served) -> None:
    for _ in range(5):
        assert (await post(gateway, "sse")).status_code == 200
    async with http() as session:
        response = await session.post(
            gateway.http,
            json={"query": TICKS},
            headers={"x-api-key": key("sse"), "accept": "text/event-stream"},
        )
    assert_rate_limited(response, 5)


async def test_key_guessing_is_throttled_per_address_before_keys_are_checked(
    gateway: Served,
) -> None:
    async with http("127.0.0.2") as guesser, http("127.0.0.3") as neighbour:
        guesses = [
            await guesser.post(gateway.http, json=QUERY, headers={"x-api-key": f"guess-{n}"})
            for n in range(4)
        ]
        assert [g.status_code for g in guesses] == [401] * 4
        blocked = await guesser.post(gateway.http, json=QUERY, headers={"x-api-key": "guess-5"})
        assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) >= 1
        assert blocked.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        even_a_good_key = await guesser.post(
            gateway.http, json=QUERY, headers={"x-api-key": key("beta")}
        )
        assert even_a_good_key.status_code == 429, "refused before the key is looked at"
        health = await guesser.get(gateway.http.replace("/graphql", "/health"))
        assert health.status_code == 200, "routes without credentials stay open"
        elsewhere = await neighbour.post(gateway.http, json=QUERY, headers={"x-api-key": "bad"})
        assert elsewhere.status_code == 401, "another address is not affected"


GUESSER = ("127.0.0.4", 0)


async def test_websocket_key_guesses_count_as_failed_authentications(gateway: Served) -> None:
    for n in range(4):
        socket = await connect(gateway.ws, subprotocols=[PROTOCOL], local_addr=GUESSER)
        await send(socket, {"type": "connection_init", "payload": {"x-api-key": f"guess-{n}"}})
        with pytest.raises(ConnectionClosed):
            await receive(socket)
        assert socket.close_code == 4401
    with pytest.raises(InvalidStatus) as refused:
        await connect(gateway.ws, subprotocols=[PROTOCOL], local_addr=GUESSER)
    assert refused.value.response.status_code == 429


async def subscribe_ticks(socket: ClientConnection, operation_id: str) -> dict[str, Any]:
    await send(
        socket,
        {
            "id": operation_id,
            "type": "subscribe",
            "payload": {"query": TICKS, "variables": {"count": 1, "hold": True}},
        },
    )
    return await receive(socket)


async def test_open_subscriptions_are_capped_per_client_across_transports(
    gateway: Served, source: ScriptedSource
) -> None:
    first = await connected(gateway, "streamer")
    second = await connected(gateway, "streamer")
    try:
        assert (await subscribe_ticks(first, "a"))["type"] == "next"
        assert (await subscribe_ticks(second, "b"))["type"] == "next"
        refused = await subscribe_ticks(second, "c")
        assert refused["type"] == "error" and refused["id"] == "c"
        (error,) = refused["payload"]
        assert error["extensions"] == {"code": "TOO_MANY_SUBSCRIPTIONS", "limit": 2}
        async with http() as session:
            over_sse = await session.post(
                gateway.http,
                json={"query": TICKS, "variables": {"hold": True}},
                headers={"x-api-key": key("streamer"), "accept": "text/event-stream"},
            )
            over_multipart = await session.post(
                gateway.http,
                json={"query": TICKS, "variables": {"hold": True}},
                headers={
                    "x-api-key": key("streamer"),
                    "accept": "multipart/mixed;subscriptionSpec=1.0",
                },
            )
        for refused_stream in (over_sse, over_multipart):
            assert refused_stream.status_code == 429
            (error,) = refused_stream.json()["errors"]
            assert error["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS"
        other = await connected(gateway, "other-streamer")
        async with other:
            assert (await subscribe_ticks(other, "x"))["type"] == "next", "others unaffected"
        await send(first, {"id": "a", "type": "complete"})
        assert source.wait_closed()
        for _ in range(50):  # the slot is given back once the subscription has ended
            answer = await subscribe_ticks(second, "d")
            if answer["type"] == "next":
                break
            await asyncio.sleep(0.05)
        assert answer["type"] == "next", answer
    finally:
        await first.close()
        await second.close()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[plans.basic]\nrate_limits = ["600/minut"]\n',
            "plans.basic.rate_limits: Value error, '600/minut' is not a rate limit",
        ),
        (
            '[plans.basic]\nrate_limits = ["0/minute"]\n',
            "'0/minute' allows no request at all",
        ),
        (
            '[plans.basic]\nrate_limits = ["99999999999/second"]\n',
            "'99999999999/second': the count must be at most 1000000000",
        ),
        ('[plans.basic]\nrate_limits = ["5/year"]\n', "'5/year': the period must be at most a day"),
        (
            f'[plans.basic]\nrate_limits = ["{"9" * 70}/second"]\n',
            "is not a rate limit: over 64 characters",
        ),
        ('[plans.basic]\nrate_limits = ["10/minute; 1/second"]\n', "holds 2 rate limits"),
        (
            '[plans.basic]\nrate_limits = ["10/minute", "20/1 minute"]\n',
            "two rate limits share the 60-second window",
        ),
        (
            '[plans.basic]\nrate_limits = ["1/second", "2/minute", "3/hour", "4/day", "5/9 hours"]',
            "at most 4 rate limits",
        ),
        ("[plans.basic]\nrate_limits = [600]\n", "plans.basic.rate_limits.0: Input should be"),
        ("[plans.basic]\nmax_subscriptions = 0\n", "plans.basic.max_subscriptions: Input should"),
        (
            "[plans.basic]\nmax_subscriptions = 1000000\n",
            "plans.basic.max_subscriptions: Input should be less",
        ),
        ('[throttling]\nstrategy = "gcra"\n', "throttling.strategy: Input should be"),
        ('[throttling]\nstorage = "memcached://x"\n', "throttling.storage: Value error, must be"),
        (
            '[throttling]\nunauthenticated_failures = ["lots"]\n',
            "throttling.unauthenticated_failures: Value error, 'lots' is not a rate limit",
        ),
        (
            '[clients.a]\ntenant = "C-1"\napi_key_sha256 = "' + "0" * 64 + '"\n'
            'rate_limits = ["1/fortnight"]\n',
            "clients.a.rate_limits: Value error, '1/fortnight' is not a rate limit",
        ),
    ],
)
def test_a_bad_rate_limit_setting_fails_at_start_naming_the_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert expected in str(error.value)


def test_the_demo_plans_can_be_reached_by_hand() -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("LG_THROTTLING__ENABLED", raising=False)
        config = GatewayConfig()
    assert config.throttling.enabled
    per_minute = {
        name: [int(limit.split("/")[0]) for limit in plan.rate_limits if limit.endswith("minute")]
        for name, plan in config.plans.items()
    }
    assert per_minute == {"standard": [300], "basic": [100], "premium": [600]}
    assert config.clients["partner-c1002"].plan == "basic"
