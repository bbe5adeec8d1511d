"""A bound on the calls in flight to one backend, so a slow backend cannot hold every worker.

A call waits at most `wait_s` for a free slot, then fails as `BackendUnavailable` ("too many
concurrent calls") rather than queueing without end: the caller learns quickly that this
backend is saturated while calls to the other backends go on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from system_apis.errors import BackendUnavailable


class Bulkhead:
    """Owns a semaphore and its counters; one per backend client."""

    def __init__(self, backend: str, *, limit: int, wait_s: float) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._backend = backend
        self._limit = limit
        self._wait_s = wait_s
        self._semaphore = asyncio.Semaphore(limit)
        self._in_flight = 0
        self._rejected = 0

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def rejected(self) -> int:
        return self._rejected

    @asynccontextmanager
    async def slot(self, operation: str) -> AsyncIterator[None]:
        try:
            if self._semaphore.locked():
                await asyncio.wait_for(self._semaphore.acquire(), timeout=self._wait_s)
            else:
                await self._semaphore.acquire()
        except TimeoutError:
            self._rejected += 1
            raise BackendUnavailable(
                self._backend,
                operation,
                f"{self._backend} is unavailable ({operation}): too many concurrent calls",
            ) from None
        self._in_flight += 1
        try:
            yield
        finally:
            self._in_flight -= 1
            self._semaphore.release()
