"""Who still uses what is deprecated, so the people to tell are known before it is removed.

The router names the deprecated coordinates an operation uses once per document
(``RequestOptions.deprecated_use``); here each request adds them to an in-memory count per
client and coordinate, which costs a dictionary update. Every ``flush_interval_s`` the
counts go to the shared SQL store (``stores.deprecations``), where every process's counts
add up; the operator reads them at ``/admin/deprecations``. A client's first use of a
coordinate in each interval is also one log line, with the coordinates in its
``deprecated`` field (and the client, tenant and correlation id every line carries).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from domain.events import utc_now
from policies.principal import Principal
from stores.deprecations import DeprecatedUse, DeprecatedUseStore

logger = logging.getLogger(__name__)

MAX_PENDING = 100_000
"""Distinct (client, coordinate) pairs held between two flushes: far more than clients times
deprecated coordinates; past it, new pairs wait for the next interval (counted as dropped)."""


@dataclass(slots=True)
class _Tally:
    tenant_id: str
    uses: int
    first_seen: datetime
    last_seen: datetime


class DeprecationUsage:
    """This process's counts since the last flush, and the flush into the shared store."""

    def __init__(
        self, store: DeprecatedUseStore, *, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._store = store
        self._clock = clock
        self._pending: dict[tuple[str, str], _Tally] = {}
        self._lock = asyncio.Lock()
        self.dropped = 0

    def recorder(self, principal: Principal) -> Callable[[tuple[str, ...]], None]:
        """What a request's ``RequestOptions.deprecated_use`` calls."""
        return partial(self.record, principal)

    def record(self, principal: Principal, coordinates: tuple[str, ...]) -> None:
        now = self._clock()
        first_uses = []
        for coordinate in coordinates:
            key = (principal.client_id, coordinate)
            tally = self._pending.get(key)
            if tally is not None:
                tally.uses += 1
                tally.last_seen = now
            elif len(self._pending) >= MAX_PENDING:
                self.dropped += 1
            else:
                self._pending[key] = _Tally(principal.tenant_id, 1, now, now)
                first_uses.append(coordinate)
        if first_uses:
            logger.info("deprecated schema used", extra={"deprecated": first_uses})

    async def flush(self) -> None:
        """Add the counts to the store; kept for the next flush when the store fails."""
        async with self._lock:
            pending, self._pending = self._pending, {}
            if not pending:
                return
            uses = [
                DeprecatedUse(
                    client,
                    tally.tenant_id,
                    coordinate,
                    tally.uses,
                    tally.first_seen,
                    tally.last_seen,
                )
                for (client, coordinate), tally in pending.items()
            ]
            try:
                await self._store.add(uses)
            except Exception as error:
                logger.warning(
                    "deprecated uses not stored; kept for the next flush",
                    extra={"code": "DEPRECATION_USAGE_NOT_STORED", "error": type(error).__name__},
                )
                self._merge_back(pending)

    def _merge_back(self, pending: dict[tuple[str, str], _Tally]) -> None:
        for key, tally in pending.items():
            newer = self._pending.get(key)
            if newer is None:
                self._pending[key] = tally
            else:
                newer.uses += tally.uses
                newer.first_seen = min(newer.first_seen, tally.first_seen)

    async def run(self, interval_s: float, stop: asyncio.Event) -> None:
        """Flush every ``interval_s`` until ``stop``, then once more."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)
            await self.flush()
