"""Polling the carriers that only answer when asked (RoadLine's status feed, Heritage's outbox).

A round reads the stored cursor, then pulls batches until the feed is drained (at most
`max_batches`, so one round stays short and the loop can notice a stop). Each batch is handled
in an order that makes a crash harmless: milestones are recorded, rejected records are kept as
dead letters, and only then is the batch's cursor stored. A crash therefore re-reads a batch but
never skips one, and re-reading costs nothing because milestones deduplicate by event id.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from process_apis.tracking import MilestoneRecorder
from stores.bundle import Stores
from stores.cursors import CursorStore
from stores.dead_letters import DeadLetterStore
from system_apis.bundle import SystemClients
from system_apis.context import correlation_scope
from system_apis.errors import BackendError, BackendThrottled, BackendUnavailable
from system_apis.milestones import MilestoneBatch

logger = logging.getLogger(__name__)

ROADLINE_PAGE_SIZE = 500
"""Status rows per request; RoadLine answers at most 1000."""

MAX_BACKOFF_FACTOR = 8
"""After repeated failures the wait grows to at most this many poll intervals."""

FetchBatch = Callable[[str | None], Awaitable[MilestoneBatch]]
"""One pull from a feed after a cursor (None: from the start)."""

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PollOutcome:
    """One round: milestones new to the history, ones already known, records set aside.

    `drained` is False when the round stopped at its batch bound with more left to read.
    """

    recorded: int
    duplicates: int
    rejected: int
    cursor: str | None
    drained: bool = True


class CarrierPoller:
    """Pulls one carrier feed into the event log, the milestone history and the dead letters."""

    def __init__(
        self,
        *,
        source: str,
        fetch: FetchBatch,
        content_type: str,
        recorder: MilestoneRecorder,
        dead_letters: DeadLetterStore,
        cursors: CursorStore,
        max_batches: int = 20,
    ) -> None:
        if max_batches < 1:
            raise ValueError("max_batches must be at least 1")
        self.source = source
        self._fetch = fetch
        self._content_type = content_type
        self._recorder = recorder
        self._dead_letters = dead_letters
        self._cursors = cursors
        self._max_batches = max_batches

    async def poll_once(self) -> PollOutcome:
        """One bounded round; a `BackendError` leaves the cursor at the last handled batch."""
        correlation_id = f"poll-{self.source}-{uuid.uuid4().hex[:12]}"
        with correlation_scope(correlation_id):
            cursor = await self._cursors.get(self.source)
            recorded = duplicates = rejected = 0
            for _ in range(self._max_batches):
                batch = await self._fetch(cursor)
                outcome = await self._recorder.record(
                    batch.milestones, correlation_id=correlation_id
                )
                recorded += len(outcome.recorded)
                duplicates += outcome.duplicates
                for record in batch.rejected:
                    await self._dead_letters.put(
                        source=self.source,
                        reason=record.reason,
                        content_type=self._content_type,
                        headers={},
                        body=record.raw,
                        correlation_id=correlation_id,
                    )
                rejected += len(batch.rejected)
                moved_to = batch.cursor if batch.cursor not in (None, cursor) else None
                if moved_to is not None:
                    if not await self._cursors.put(self.source, moved_to, expected=cursor):
                        logger.warning(
                            "polling %s: another process moved the cursor past %s; this round ends",
                            self.source,
                            cursor,
                        )
                        return PollOutcome(
                            recorded, duplicates, rejected, await self._cursors.get(self.source)
                        )
                    cursor = moved_to
                if moved_to is None or not (batch.milestones or batch.rejected):
                    return PollOutcome(recorded, duplicates, rejected, cursor)
        return PollOutcome(recorded, duplicates, rejected, cursor, drained=False)

    async def run(self, interval_s: float, stop: asyncio.Event) -> None:
        """Poll every `interval_s` until `stop` is set; backend failures are waited out, longer
        each time, because a carrier that is down must not end polling for good."""
        failures = 0
        while not stop.is_set():
            delay = interval_s
            try:
                outcome = await _unless_stopped(self.poll_once(), stop)
            except BackendError as error:
                failures += 1
                delay = _backoff(interval_s, failures, error)
                logger.warning(
                    "polling %s failed (%s); next try in %.1fs",
                    self.source,
                    error.public_message,
                    delay,
                )
            except Exception:  # a store failure must not end polling silently either
                failures += 1
                delay = _backoff(interval_s, failures, None)
                logger.exception("polling %s failed; next try in %.1fs", self.source, delay)
            else:
                if outcome is None:
                    return
                failures = 0
                if not outcome.drained:
                    delay = 0.0
            if await _stopped_within(stop, delay):
                return


def build_pollers(
    clients: SystemClients,
    stores: Stores,
    recorder: MilestoneRecorder,
    *,
    max_batches: int = 20,
) -> tuple[CarrierPoller, ...]:
    """A poller per carrier that has to be asked: RoadLine's feed and Heritage's outbox."""

    async def roadline_updates(after: str | None) -> MilestoneBatch:
        return await clients.roadline.status_updates(after, limit=ROADLINE_PAGE_SIZE)

    def poller(source: str, fetch: FetchBatch, content_type: str) -> CarrierPoller:
        return CarrierPoller(
            source=source,
            fetch=fetch,
            content_type=content_type,
            recorder=recorder,
            dead_letters=stores.dead_letters,
            cursors=stores.cursors,
            max_batches=max_batches,
        )

    return (
        poller("roadline", roadline_updates, "application/json"),
        poller("heritage-outbox", clients.heritage.outbox, "application/edi-x12"),
    )


def _backoff(interval_s: float, failures: int, error: BackendError | None) -> float:
    """Double the wait per failure up to a bound, and never ask sooner than the backend said."""
    delay = interval_s * min(2 ** (failures - 1), MAX_BACKOFF_FACTOR)
    if isinstance(error, BackendUnavailable | BackendThrottled) and error.retry_after:
        delay = max(delay, error.retry_after)
    return delay


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True


async def _unless_stopped(work: Coroutine[Any, Any, T], stop: asyncio.Event) -> T | None:
    """`work`'s result, or None when `stop` is set first; `work` is then cancelled, which is
    safe because a cursor is only stored once its batch is handled."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not task.done():
            task.cancel()
            await asyncio.wait({task})
    return None if task.cancelled() else task.result()
