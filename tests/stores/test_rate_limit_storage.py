"""Rate-limit counters on each engine and with each strategy: the quota holds, keys are apart,
and on Redis every key sits under the deployment's namespace."""

from __future__ import annotations

import uuid

import pytest
import redis.asyncio

from policies.rate_limits import STRATEGIES, RateLimits, quotas_of
from stores.rate_limits import open_rate_limit_storage


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
