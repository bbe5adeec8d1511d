"""Expired idempotency records removed on a schedule, so the table holds only keys a retry can
still use: a key's record is useless once its time to live has passed (an expired key is free
again), yet without this it would stay for ever, one row per write the warehouse apps made.

Every process runs it: deleting expired rows is one indexed statement, and two processes
deleting the same rows at once both succeed, so no lease is needed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from process_apis.consumers import stopped_within

logger = logging.getLogger(__name__)


class ExpiringRecords(Protocol):
    """The idempotency store's side of it (`stores.SqlIdempotencyStore`)."""

    async def purge_expired(self) -> int: ...


async def purge_expired_keys(
    records: ExpiringRecords, interval_s: float, stop: asyncio.Event
) -> None:
    """Purge now, then every `interval_s` until `stop` is set; a failure is logged and the
    next round tries again."""
    while not stop.is_set():
        try:
            removed = await records.purge_expired()
        except Exception:
            logger.warning("purging expired idempotency records failed", exc_info=True)
        else:
            if removed:
                logger.info("purged %d expired idempotency records", removed)
        if await stopped_within(stop, interval_s):
            return
