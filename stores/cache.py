"""The response and entity cache: aiocache in memory on one machine, on Redis for several.

Values are JSON (never pickle): a cache shared by replicas must not be a way to run code.
"""

from __future__ import annotations

from urllib.parse import urlparse

from aiocache import RedisCache, SimpleMemoryCache
from aiocache.base import BaseCache
from aiocache.serializers import JsonSerializer


def open_cache(url: str, *, namespace: str) -> BaseCache:
    """`memory`, or `redis://[:password@]host[:port][/db]`."""
    if url == "memory":
        return SimpleMemoryCache(serializer=JsonSerializer(), namespace=namespace)
    parsed = urlparse(url)
    if parsed.scheme not in {"redis", "rediss"}:
        raise ValueError(f"cache URL must be 'memory' or redis://…, got {url!r}")
    database = int(parsed.path.lstrip("/") or 0)
    return RedisCache(
        serializer=JsonSerializer(),
        namespace=namespace,
        endpoint=parsed.hostname or "127.0.0.1",
        port=parsed.port or 6379,
        db=database,
        password=parsed.password,
        ssl=parsed.scheme == "rediss",
    )
