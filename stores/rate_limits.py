"""Where rate-limit counters live: `limits` in memory on one process, on Redis for several.

The engine follows the URL, as the cache's does: `memory`, or `redis://[:password@]host[:port][/db]`
(`rediss://` for TLS). On Redis every key starts with `<namespace>:ratelimit:`, the
deployment's share of a Redis other deployments may use too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from limits.aio.storage import MemoryStorage, RedisStorage, Storage

COUNT_TIMEOUT_S = 1.0


@dataclass(frozen=True, slots=True)
class RateLimitStorage:
    storage: Storage
    close: Callable[[], Awaitable[None]]


async def _nothing() -> None:
    return None


def open_rate_limit_storage(url: str, *, namespace: str) -> RateLimitStorage:
    """The counters' storage for `url`; opens no connection until the first count."""
    if url == "memory":
        return RateLimitStorage(MemoryStorage(), _nothing)
    if not url.startswith(("redis://", "rediss://")):
        raise ValueError(f"rate limit storage must be 'memory' or redis://…, got {url!r}")
    import redis.asyncio

    # a Redis that stops answering fails a count within a second (see `RateLimits`' fallback)
    # instead of holding the request; timeouts in the URL's query take precedence
    pool = redis.asyncio.ConnectionPool.from_url(
        url, socket_connect_timeout=COUNT_TIMEOUT_S, socket_timeout=COUNT_TIMEOUT_S
    )
    storage = RedisStorage(
        f"async+{url}",
        implementation="redispy",
        key_prefix=f"{namespace}:ratelimit",
        wrap_exceptions=True,
        connection_pool=pool,
    )
    return RateLimitStorage(storage, pool.disconnect)
