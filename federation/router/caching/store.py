"""The store boundary of the response and entity caches.

Below it: bytes under keys, each with a time to live and the tags of the entities it holds.
Above it: what the bytes mean. A store purges by tag (every entry holding a tag goes) and
refuses to keep an entry one of whose tags was purged after the entry's answer was started
(``started_at``, wall-clock seconds): an answer computed from data read before a change must
not outlive the purge the change caused. Stores are chosen by the embedding app (in memory
for one process, shared on Redis for several); a store that fails raises, and the caches
then answer as if it held nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol


class TaggedStore(Protocol):
    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """The entries under ``keys``, None for each one missing or expired."""
        ...

    async def put(
        self, key: str, value: bytes, *, ttl_s: float, tags: Iterable[str], started_at: float
    ) -> bool:
        """Keep ``value`` for ``ttl_s`` seconds, unless a tag was purged after ``started_at``;
        True when kept."""
        ...

    async def purge(self, tags: Iterable[str]) -> int:
        """Drop every entry holding one of ``tags``; returns how many entries went."""
        ...
