"""Where automatic persisted queries (APQ) are kept between a client's two requests.

The boundary: a store maps a SHA-256 (lowercase hexadecimal) to a document's text and may
forget any entry at any time (the protocol makes the client send the text again). It is not
trusted: whatever it returns is hashed again before it runs, so a store shared by several
processes (Redis) cannot be used to swap a document. The router ships a bounded in-memory
store; the embedding app may give it another (``aiocache`` on Redis, for several processes).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol


class DocumentStore(Protocol):
    async def get(self, digest: str) -> str | None: ...

    async def set(self, digest: str, document: str) -> None: ...


class MemoryDocuments:
    """The least recently used documents, at most ``max_entries`` and ``max_bytes`` of text."""

    def __init__(self, max_entries: int = 1024, max_bytes: int = 16 * 1024 * 1024) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._documents: OrderedDict[str, str] = OrderedDict()
        self._bytes = 0

    async def get(self, digest: str) -> str | None:
        document = self._documents.get(digest)
        if document is not None:
            self._documents.move_to_end(digest)
        return document

    async def set(self, digest: str, document: str) -> None:
        size = len(document)
        if size > self.max_bytes:
            return
        previous = self._documents.pop(digest, None)
        if previous is not None:
            self._bytes -= len(previous)
        self._documents[digest] = document
        self._bytes += size
        while len(self._documents) > self.max_entries or self._bytes > self.max_bytes:
            _, dropped = self._documents.popitem(last=False)
            self._bytes -= len(dropped)

    def __len__(self) -> int:
        return len(self._documents)
