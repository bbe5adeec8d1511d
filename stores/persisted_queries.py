"""Automatic persisted queries in the cache: this process's memory, or Redis for several.

Documents are kept by their SHA-256 under `apq:`, for a time (`ttl_s`) that each new
registration renews. In memory the store also bounds how many it keeps (the least recently
registered go first): clients choose what they register, and a cache that only grows would
let one of them fill the process. On Redis the TTL and Redis's own memory policy bound it.
The router hashes whatever comes back before running it, so a shared Redis cannot swap a
document; a cache that fails is a miss (the client sends the text again), logged once.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

from aiocache import SimpleMemoryCache
from aiocache.base import BaseCache

KEY_PREFIX = "apq:"
_logger = logging.getLogger("stores.persisted_queries")


class CachedDocuments:
    """The router's `DocumentStore` on an aiocache cache."""

    def __init__(self, cache: BaseCache, *, ttl_s: int, max_entries: int) -> None:
        self.cache = cache
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._bounded = isinstance(cache, SimpleMemoryCache)
        self._kept: OrderedDict[str, None] = OrderedDict()
        self._failing = False

    async def get(self, digest: str) -> str | None:
        try:
            document = await self.cache.get(KEY_PREFIX + digest)
        except Exception as error:
            self._failed("read", error)
            return None
        self._failing = False
        return document if isinstance(document, str) else None

    async def set(self, digest: str, document: str) -> None:
        try:
            await self.cache.set(KEY_PREFIX + digest, document, ttl=self.ttl_s)
            if self._bounded:
                await self._bound(digest)
        except Exception as error:
            self._failed("write", error)
            return
        self._failing = False

    async def _bound(self, digest: str) -> None:
        self._kept.pop(digest, None)
        self._kept[digest] = None
        while len(self._kept) > self.max_entries:
            dropped, _ = self._kept.popitem(last=False)
            await self.cache.delete(KEY_PREFIX + dropped)

    def _failed(self, action: str, error: Exception) -> None:
        if not self._failing:
            _logger.warning(
                "persisted query cache failed to %s: %s", action, error, extra={"code": "APQ"}
            )
        self._failing = True
