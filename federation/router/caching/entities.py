"""`_entities` answers cached one entity at a time, as Apollo Router's entity cache does.

An entry is one entity as one subgraph answered it for one selection (the fetch's document)
and one partition, under a key of (subgraph, representation, document, partition). Before an
entity fetch the router looks every representation up; only the missing ones are sent, and
each entity of the answer is kept for the fetch's policy (the entity type's hint and the
fields selected), tagged with its own key and what the subgraph announced. An entity with an
error is not kept.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import orjson

from federation.router.caching.settings import CacheSettings
from federation.router.caching.store import TaggedStore

_logger = logging.getLogger("federation.router.cache")

CachedEntity = tuple[dict[str, Any], list[str]]
"""An entity and its tags."""


class EntityCache:
    def __init__(
        self,
        store: TaggedStore,
        settings: CacheSettings,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock

    def keys(
        self,
        subgraph: str,
        operation: str,
        representations: Sequence[Mapping[str, Any]],
        partition: str,
    ) -> list[str]:
        prefix = hashlib.sha256(f"{subgraph}\x00{operation}\x00{partition}\x00".encode())
        keys = []
        for representation in representations:
            material = prefix.copy()
            material.update(orjson.dumps(representation, option=orjson.OPT_SORT_KEYS))
            typename = representation.get("__typename")
            keys.append(f"entity:{subgraph}:{typename}:{material.hexdigest()}")
        return keys

    async def lookup(self, keys: Sequence[str]) -> list[CachedEntity | None]:
        try:
            raws = await self.store.get_many(keys)
        except Exception as error:
            _logger.warning("entity cache unavailable, fetching without it: %s", error)
            return [None] * len(keys)
        found: list[CachedEntity | None] = []
        for raw in raws:
            entry = None
            if raw is not None:
                try:
                    decoded = orjson.loads(raw)
                    if isinstance(decoded.get("entity"), dict):
                        entry = (decoded["entity"], list(decoded.get("tags") or ()))
                except (orjson.JSONDecodeError, AttributeError, TypeError):
                    entry = None
            found.append(entry)
        return found

    async def keep(
        self,
        entries: Iterable[tuple[str, dict[str, Any], list[str]]],
        *,
        ttl_s: int,
        started_at: float,
    ) -> None:
        for key, entity, tags in entries:
            value = orjson.dumps({"entity": entity, "tags": tags})
            if len(value) > self.settings.max_entry_bytes:
                continue
            try:
                await self.store.put(key, value, ttl_s=ttl_s, tags=tags, started_at=started_at)
            except Exception as error:
                _logger.warning("entity cache unavailable, entity not kept: %s", error)
                return
