"""Hits and misses of the shared aiocache cache, counted by an aiocache plugin.

aiocache calls a plugin after every command it runs, with the command's answer, so every
reader of the cache is counted without knowing about metrics: a `get` or `multi_get` answer
that is not None is a hit. The cache label is the key's kind, its text before the first `:`
(`order-owner`), bounded like every label taken from data. A component with a cache of its
own (not aiocache) records through `GatewayMetrics.cache_lookups` directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiocache.plugins import BasePlugin

from gateway.labels import BoundedLabels
from gateway.metrics import GatewayMetrics

MAX_KINDS = 20


class CacheLookups(BasePlugin):
    def __init__(self, metrics: GatewayMetrics) -> None:
        self._metrics = metrics
        self._kinds = BoundedLabels(MAX_KINDS)

    async def post_get(self, client: Any, key: str, *args: Any, ret: Any = None, **_: Any) -> None:
        hit = ret is not None
        self._metrics.cache_lookups(self._kind(key), int(hit), int(not hit))

    async def post_multi_get(
        self, client: Any, keys: Sequence[str], *args: Any, ret: Any = None, **_: Any
    ) -> None:
        if not keys:
            return
        hits = sum(value is not None for value in ret or ())
        self._metrics.cache_lookups(self._kind(keys[0]), hits, len(keys) - hits)

    def _kind(self, key: object) -> str:
        text = key if isinstance(key, str) else ""
        kind = text.partition(":")[0][:40] if ":" in text else "other"
        return self._kinds(kind)
