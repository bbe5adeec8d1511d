"""The tagged store of the response and entity caches, in memory and on the real Redis."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from stores.cache import open_cache
from stores.tagged_cache import MemoryTaggedStore, RedisTaggedStore, tagged_store


@pytest.fixture(params=["memory", "redis"])
async def store(request):
    url = request.getfixturevalue("redis_url") if request.param == "redis" else "memory"
    cache = open_cache(url, namespace=f"test-{uuid.uuid4().hex[:8]}")
    yield tagged_store(cache)
    await cache.clear()
    await cache.close()


async def test_an_entry_is_read_back_as_the_bytes_it_was_given(store):
    value = b'{"data":{"shipment":{"status":"DELIVERED"}}}'
    assert await store.put("k1", value, ttl_s=5, tags=["Shipment:1"], started_at=time.time())
    assert await store.get_many(["k1", "missing"]) == [value, None]


async def test_an_entry_expires_with_its_time_to_live(store):
    await store.put("short", b"x", ttl_s=0.3, tags=[], started_at=time.time())
    await asyncio.sleep(0.5)
    assert await store.get_many(["short"]) == [None]


async def test_a_purge_removes_every_entry_holding_the_tag_and_only_those(store):
    started = time.time()
    await store.put("a", b"1", ttl_s=5, tags=["Shipment:1", "Order:9"], started_at=started)
    await store.put("b", b"2", ttl_s=5, tags=["Shipment:1"], started_at=started)
    await store.put("c", b"3", ttl_s=5, tags=["Shipment:2"], started_at=started)
    assert await store.purge(["Shipment:1"]) == 2
    assert await store.get_many(["a", "b", "c"]) == [None, None, b"3"]
    assert await store.purge(["Shipment:1"]) == 0


async def test_an_answer_started_before_a_purge_of_its_tag_is_not_kept(store):
    started = time.time()
    await asyncio.sleep(0.01)
    await store.purge(["Order:SO-1"])
    kept = await store.put("late", b"old", ttl_s=5, tags=["Order:SO-1"], started_at=started)
    assert kept is False
    assert await store.get_many(["late"]) == [None]
    fresh = await store.put("new", b"new", ttl_s=5, tags=["Order:SO-1"], started_at=time.time())
    assert fresh is True


async def test_a_purge_on_redis_is_seen_by_another_process_store(redis_url):
    namespace = f"test-{uuid.uuid4().hex[:8]}"
    one, other = (
        open_cache(redis_url, namespace=namespace),
        open_cache(redis_url, namespace=namespace),
    )
    try:
        first, second = RedisTaggedStore(one), RedisTaggedStore(other)
        await first.put("k", b"v", ttl_s=5, tags=["Shipment:7"], started_at=time.time())
        assert await second.get_many(["k"]) == [b"v"]
        assert await second.purge(["Shipment:7"]) == 1
        assert await first.get_many(["k"]) == [None]
    finally:
        await one.clear()
        await one.close()
        await other.close()


async def test_a_memory_store_over_its_bytes_evicts_the_oldest_entries_first():
    cache = open_cache("memory", namespace="bounded")
    store = MemoryTaggedStore(cache, max_bytes=1000)
    started = time.time()
    for number in range(25):
        await store.put(f"k{number}", b"x" * 100, ttl_s=60, tags=["t"], started_at=started)
    assert store.held_bytes <= 1000
    values = await store.get_many([f"k{number}" for number in range(25)])
    assert values[:15] == [None] * 15 and values[15:] == [b"x" * 100] * 10
    assert await store.put("huge", b"x" * 1001, ttl_s=60, tags=[], started_at=started) is False
    await store.purge(["t"])
    assert store.held_bytes == 0
    await cache.close()
