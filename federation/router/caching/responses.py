"""Whole answers of queries, cached by operation, variables and partition.

An entry is the answer with when it was made and its policy. It is fresh for its `maxAge`; it
is kept `stale_if_error_s` longer so that, when a new answer fails (a subgraph or backend
could not answer), the last good one stands in, marked ``extensions.cache.stale``. Answers
with errors are never kept. A store that fails is a miss, logged, never the caller's error.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from federation.router.caching.hints import CachePolicy
from federation.router.caching.settings import CacheSettings
from federation.router.caching.store import TaggedStore

_logger = logging.getLogger("federation.router.cache")


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    result: dict[str, Any]
    age_s: float
    max_age: int

    @property
    def fresh(self) -> bool:
        return self.age_s < self.max_age


class ResponseCache:
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

    def key(self, digest: bytes, variables: Mapping[str, Any], partition: str) -> str:
        material = hashlib.sha256(digest)
        material.update(b"\x00")
        material.update(orjson.dumps(variables, option=orjson.OPT_SORT_KEYS, default=str))
        material.update(b"\x00")
        material.update(partition.encode())
        return "response:" + material.hexdigest()

    async def lookup(self, key: str) -> CachedAnswer | None:
        try:
            (raw,) = await self.store.get_many([key])
        except Exception as error:
            _logger.warning("response cache unavailable, answering without it: %s", error)
            return None
        if raw is None:
            return None
        try:
            entry = orjson.loads(raw)
            return CachedAnswer(
                result=entry["result"],
                age_s=max(0.0, self.clock() - float(entry["stored_at"])),
                max_age=int(entry["max_age"]),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            _logger.warning("response cache entry %s is unreadable; ignoring it", key)
            return None

    async def keep(
        self,
        key: str,
        result: dict[str, Any],
        policy: CachePolicy,
        tags: Iterable[str],
        started_at: float,
    ) -> bool:
        """Keep an error-free answer for its age plus the stale window; False when it was
        not kept (errors, too large, a tag purged meanwhile, the store failing)."""
        if result.get("errors") or not policy.cacheable or policy.max_age is None:
            return False
        value = orjson.dumps(
            {"result": result, "stored_at": self.clock(), "max_age": policy.max_age}
        )
        if len(value) > self.settings.max_entry_bytes:
            return False
        try:
            return await self.store.put(
                key,
                value,
                ttl_s=policy.max_age + self.settings.stale_if_error_s,
                tags=tags,
                started_at=started_at,
            )
        except Exception as error:
            _logger.warning("response cache unavailable, answer not kept: %s", error)
            return False

    def failed(self, result: Mapping[str, Any]) -> bool:
        """Whether an answer carries an error saying a subgraph or backend failed."""
        for error in result.get("errors") or ():
            extensions = error.get("extensions") if isinstance(error, dict) else None
            code = extensions.get("code") if isinstance(extensions, dict) else None
            if code in self.settings.failure_codes:
                return True
        return False


def stale_answer(cached: CachedAnswer) -> dict[str, Any]:
    """The kept answer standing in for a failed one, marked stale with its age in seconds."""
    result = dict(cached.result)
    extensions = dict(result.get("extensions") or {})
    extensions["cache"] = {"stale": True, "age": int(cached.age_s)}
    result["extensions"] = extensions
    return result
