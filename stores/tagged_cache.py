"""The response and entity caches' store (`federation.router.caching.TaggedStore`) over the
aiocache cache of `stores.cache`: entries tagged with the entities they hold, purged by tag.

In memory, the tag index is a dictionary beside the entries, in this process only: each
process purges its own (`process_apis.cache_invalidation` follows the event log in every
process). On Redis, an entry's tags are sets (`<namespace>:tag:<tag>`, the keys holding it)
and a purge is one script that deletes every key of each set and the set, so a purge done by
one process is seen by all at once. Either way a purge leaves a mark (`purged:<tag>`, for
`purge_memory_s`) that refuses an entry whose answer was started before it: an answer read
from data older than a change must not be kept after the change purged its tag.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence

from aiocache import RedisCache
from aiocache.base import BaseCache

MEMORY_BYTES = 256 * 1024 * 1024
"""What the entries of a memory store may hold at most; past it the oldest go first."""

PURGE_MEMORY_S = 600.0
"""How long a purge is remembered to refuse entries started before it: longer than any
answer takes to compute."""

_STORE = """
local started = tonumber(ARGV[3])
for i = 4, #ARGV do
  local purged = redis.call('GET', KEYS[2] .. 'purged:' .. ARGV[i])
  if purged and tonumber(purged) >= started then return 0 end
end
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
for i = 4, #ARGV do
  local set = KEYS[2] .. 'tag:' .. ARGV[i]
  redis.call('SADD', set, KEYS[1])
  if redis.call('PTTL', set) < ttl then redis.call('PEXPIRE', set, ttl) end
end
return 1
"""

_PURGE = """
local removed = 0
for i = 2, #ARGV do
  local set = KEYS[1] .. 'tag:' .. ARGV[i]
  local members = redis.call('SMEMBERS', set)
  for _, key in ipairs(members) do removed = removed + redis.call('DEL', key) end
  redis.call('DEL', set)
  redis.call('SET', KEYS[1] .. 'purged:' .. ARGV[i], ARGV[1], 'PX', {memory_ms})
end
return removed
""".replace("{memory_ms}", str(int(PURGE_MEMORY_S * 1000)))


def _identity(value: bytes) -> bytes:
    return value


def _raw(value: object) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode()
    return value  # type: ignore[return-value]


class MemoryTaggedStore:
    """Entries in an aiocache memory cache; the tag index and purge marks in this process.

    The entries are bounded in bytes (``max_bytes``): a flood of distinct answers evicts the
    oldest kept rather than growing the process.
    """

    def __init__(
        self,
        cache: BaseCache,
        *,
        clock: Callable[[], float] = time.time,
        max_bytes: int = MEMORY_BYTES,
    ) -> None:
        self.cache = cache
        self.clock = clock
        self.max_bytes = max_bytes
        self._tagged: dict[str, dict[str, float]] = {}
        """tag → {key: when the entry expires}"""
        self._purged: dict[str, float] = {}
        self._sizes: OrderedDict[str, tuple[int, float]] = OrderedDict()
        """key → (size, when it expires), oldest first"""
        self._bytes = 0
        self._writes = 0

    @property
    def held_bytes(self) -> int:
        return self._bytes

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        values = await self.cache.multi_get(list(keys), loads_fn=_identity)
        return [_raw(value) for value in values]

    async def put(
        self, key: str, value: bytes, *, ttl_s: float, tags: Iterable[str], started_at: float
    ) -> bool:
        tags = tuple(tags)
        if any(self._purged.get(tag, float("-inf")) >= started_at for tag in tags):
            return False
        if len(value) > self.max_bytes:
            return False
        await self.cache.set(key, value, ttl=float(ttl_s), dumps_fn=_identity)
        expires = self.clock() + ttl_s
        for tag in tags:
            self._tagged.setdefault(tag, {})[key] = expires
        self._account(key, len(value), expires)
        while self._bytes > self.max_bytes:
            oldest, (size, _) = self._sizes.popitem(last=False)
            self._bytes -= size
            await self.cache.delete(oldest)
        self._writes += 1
        if self._writes % 1024 == 0:
            self._forget_expired()
        return True

    def _account(self, key: str, size: int, expires: float) -> None:
        previous = self._sizes.pop(key, None)
        if previous is not None:
            self._bytes -= previous[0]
        self._sizes[key] = (size, expires)
        self._bytes += size

    async def purge(self, tags: Iterable[str]) -> int:
        now = self.clock()
        removed = 0
        for tag in tags:
            self._purged[tag] = now
            for key in self._tagged.pop(tag, {}):
                removed += int(bool(await self.cache.delete(key)))
                held = self._sizes.pop(key, None)
                if held is not None:
                    self._bytes -= held[0]
        return removed

    def _forget_expired(self) -> None:
        """Index entries of expired keys and old purge marks go, so the index stays as large
        as what the cache holds."""
        now = self.clock()
        for tag in list(self._tagged):
            keys = self._tagged[tag]
            for key in [key for key, expires in keys.items() if expires <= now]:
                del keys[key]
            if not keys:
                del self._tagged[tag]
        for tag in [tag for tag, at in self._purged.items() if at < now - PURGE_MEMORY_S]:
            del self._purged[tag]
        for key in [key for key, (_, expires) in self._sizes.items() if expires <= now]:
            self._bytes -= self._sizes.pop(key)[0]


class RedisTaggedStore:
    """Entries, tag sets and purge marks on Redis, shared by every process of a deployment."""

    def __init__(self, cache: RedisCache, *, clock: Callable[[], float] = time.time) -> None:
        self.cache = cache
        self.clock = clock
        self._prefix = cache._build_key("")  # the namespace, as aiocache spells keys

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        values = await self.cache.multi_get(list(keys), loads_fn=_identity)
        return [_raw(value) for value in values]

    async def put(
        self, key: str, value: bytes, *, ttl_s: float, tags: Iterable[str], started_at: float
    ) -> bool:
        stored = await self.cache.raw(
            "eval",
            _STORE,
            2,
            self.cache._build_key(key),
            self._prefix,
            value,
            int(ttl_s * 1000),
            repr(started_at),
            *tags,
        )
        return bool(stored)

    async def purge(self, tags: Iterable[str]) -> int:
        tags = tuple(tags)
        if not tags:
            return 0
        removed = await self.cache.raw("eval", _PURGE, 1, self._prefix, repr(self.clock()), *tags)
        return int(removed or 0)


def tagged_store(
    cache: BaseCache, *, max_memory_bytes: int = MEMORY_BYTES
) -> MemoryTaggedStore | RedisTaggedStore:
    """The tagged store over the cache `stores.cache.open_cache` built (Redis bounds its own
    memory: `maxmemory`)."""
    if isinstance(cache, RedisCache):
        return RedisTaggedStore(cache)
    return MemoryTaggedStore(cache, max_bytes=max_memory_bytes)
