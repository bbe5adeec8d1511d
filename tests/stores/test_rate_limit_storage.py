"""Rate-limit counters on each engine and with each strategy: the quota holds, keys are apart,
and on Redis every key sits under the deployment's namespace."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

import pytest
import redis.asyncio

from policies.rate_limits import RETRY_SHARED_AFTER_S, STRATEGIES, RateLimits, quotas_of
from stores.rate_limits import COUNT_TIMEOUT_S, open_rate_limit_storage


@pytest.fixture(params=["memory", "redis"])
def engine(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory"
    return request.getfixturevalue("redis_url")


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
async def test_a_quota_admits_its_amount_and_no_more_per_key(engine: str, strategy: str) -> None:
    namespace = f"rate-limit-test-{uuid.uuid4().hex[:8]}"
    storage = open_rate_limit_storage(engine, namespace=namespace)
    limits = RateLimits(storage.storage, strategy)  # type: ignore[arg-type]
    quotas = quotas_of(["3/minute"])
    try:
        verdicts = [await limits.hit(("client", "flooder"), quotas) for _ in range(5)]
        assert [v.allowed for v in verdicts] == [True, True, True, False, False]
        assert verdicts[-1].retry_after_s >= 1
        assert b"retry-after" in dict(verdicts[-1].headers())
        assert (await limits.hit(("client", "neighbour"), quotas)).allowed
        assert not (await limits.peek(("client", "flooder"), quotas)).allowed
        if engine != "memory":
            connection = redis.asyncio.from_url(engine)
            keys = await connection.keys(f"{namespace}:*")
            await connection.aclose()
            assert keys and all(k.decode().startswith(f"{namespace}:ratelimit:") for k in keys)
    finally:
        await storage.close()


async def test_unreachable_counters_let_requests_through() -> None:
    storage = open_rate_limit_storage("redis://127.0.0.1:1/0", namespace="nowhere")
    limits = RateLimits(storage.storage)
    try:
        verdict = await limits.hit(("client", "anyone"), quotas_of(["1/minute"]))
        assert verdict.allowed and verdict.headers() == []
    finally:
        await storage.close()


class Relay:
    """A loopback TCP relay to a real server that can be cut and restored: the server going
    away and coming back, as its clients see it."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._open):
            writer.close()
        await self._server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(
            "127.0.0.1", self.target_port
        )
        self._open |= {writer, upstream_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                sink.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))


async def test_while_redis_is_away_each_process_counts_on_its_own_then_redis_again(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    relay = Relay(6379)
    await relay.start()
    namespace = f"rate-limit-test-{uuid.uuid4().hex[:8]}"
    shared = open_rate_limit_storage(f"redis://127.0.0.1:{relay.port}/0", namespace=namespace)
    local = open_rate_limit_storage("memory", namespace=namespace)
    waited = [0.0]
    limits = RateLimits(
        shared.storage, fallback=local.storage, clock=lambda: time.time() + waited[0]
    )
    quotas, key = quotas_of(["2/minute"]), ("client", "steady")
    try:
        assert (await limits.hit(key, quotas)).allowed  # one spent in Redis
        await relay.cut()
        with caplog.at_level(logging.WARNING, logger="policies.rate_limits"):
            away = [(await limits.hit(key, quotas)).allowed for _ in range(3)]
            waited[0] += RETRY_SHARED_AFTER_S + 1  # tried again: still away
            assert not (await limits.hit(key, quotas)).allowed
        assert away == [True, True, False], "held to the quota in this process meanwhile"
        unreachable = [r for r in caplog.records if "unreachable" in r.getMessage()]
        assert len(unreachable) == 1, "one warning per outage, not one per request"
        await relay.start()  # Redis is back, on the same address
        waited[0] += RETRY_SHARED_AFTER_S + 1
        verdicts = [(await limits.hit(key, quotas)).allowed for _ in range(2)]
        assert verdicts == [True, False], "counted in Redis again, where one was spent before"
    finally:
        await relay.cut()
        await shared.close()


async def test_a_redis_that_stops_answering_fails_a_count_within_its_timeout(
    redis_url: str,
) -> None:
    """A Redis that accepts connections and never answers (a hung server, a black-holed
    route) must not hold requests: the count gives up and the request is let through."""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never answers

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    storage = open_rate_limit_storage(f"redis://127.0.0.1:{port}/0", namespace="hung")
    limits = RateLimits(storage.storage)
    began = time.monotonic()
    try:
        verdict = await limits.hit(("client", "anyone"), quotas_of(["1/minute"]))
        assert verdict.allowed
        assert time.monotonic() - began < COUNT_TIMEOUT_S * 5
    finally:
        await storage.close()
        server.close()
