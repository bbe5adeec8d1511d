"""The cache of prepared operations, bounded in entries and in (estimated) bytes.

Keys are digests of the document and the operation name, so the cache never holds a
client's document itself; entries are what preparing it produced, a plan or the error that
refused it (a refused document is refused again from the cache, without parsing). Sizes are
estimates given by the caller: a plan grows with its document, an error with its messages.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

Entry = TypeVar("Entry")


@dataclass(frozen=True, slots=True)
class PlanCacheStats:
    """The cache at one moment: what it holds and how often it answered."""

    entries: int
    size_bytes: int
    hits: int
    misses: int


def cache_key(document: str, operation_name: str | None) -> bytes:
    """A collision-resistant key: two documents never share a plan."""
    digest = hashlib.sha256(document.encode("utf-8", "surrogatepass"))
    if operation_name is not None:
        digest.update(b"\x00" + operation_name.encode("utf-8", "surrogatepass"))
    return digest.digest()


class PlanCache(Generic[Entry]):
    """Least recently used entries are dropped once either bound is passed."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[bytes, tuple[Entry, int]] = OrderedDict()
        self.size_bytes = 0
        self.hits = 0
        self.misses = 0
        """Lookups answered and not, since the cache was made (for its hit rate)."""

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: bytes) -> Entry | None:
        found = self._entries.get(key)
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(key)
        return found[0]

    def peek(self, key: bytes) -> Entry | None:
        """The entry without counting a lookup or refreshing its place."""
        found = self._entries.get(key)
        return found[0] if found is not None else None

    def stats(self) -> PlanCacheStats:
        return PlanCacheStats(len(self._entries), self.size_bytes, self.hits, self.misses)

    def put(self, key: bytes, entry: Entry, size: int) -> None:
        """Keep ``entry``, unless it alone is larger than the whole cache may be."""
        previous = self._entries.pop(key, None)
        if previous is not None:
            self.size_bytes -= previous[1]
        if size > self.max_bytes or self.max_entries <= 0:
            return
        self._entries[key] = (entry, size)
        self.size_bytes += size
        while len(self._entries) > self.max_entries or self.size_bytes > self.max_bytes:
            _, (_, dropped) = self._entries.popitem(last=False)
            self.size_bytes -= dropped
