"""The cache keeps values for their time to live, in memory and on the real Redis."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from stores.cache import open_cache


@pytest.fixture(params=["memory", "redis"])
async def cache(request):
    url = request.getfixturevalue("redis_url") if request.param == "redis" else "memory"
    cache = open_cache(url, namespace=f"test-{uuid.uuid4().hex[:8]}")
    yield cache
    await cache.clear()
    await cache.close()


async def test_a_value_is_read_back_until_its_time_to_live_passes(cache):
    await cache.set("order:SO-1", {"owner": "C-1001"}, ttl=1)
    assert await cache.get("order:SO-1") == {"owner": "C-1001"}
    await asyncio.sleep(1.2)
    assert await cache.get("order:SO-1") is None


async def test_namespaces_keep_caches_apart(cache, redis_url):
    other = open_cache(redis_url, namespace=f"other-{uuid.uuid4().hex[:8]}")
    try:
        await cache.set("k", "mine")
        assert await other.get("k") is None
    finally:
        await other.close()


def test_an_unknown_cache_url_is_refused():
    with pytest.raises(ValueError, match="must be 'memory' or redis"):
        open_cache("memcached://x", namespace="n")
