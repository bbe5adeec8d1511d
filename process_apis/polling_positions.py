"""Polling the WMS's stock listing, so the inventory read model also holds the positions that
never changed since the gateway started listening to the WMS's pushes.

A round reads the listing page by page from the stored cursor (at most `max_batches` pages, then
the loop comes back at once) and appends each position the read model does not hold at that
revision yet as an `inventory.position` event (`system_apis.wms.events`); records that do not
map are kept as dead letters; only then does the cursor move (by compare-and-set, under the
feed's lease: `process_apis.polling`). After the last page the cursor goes back to the start,
so every round after the first is a reconciliation sweep: a push the gateway missed is found by
the next sweep. Reading a position again costs nothing: its event id is derived from its key and
revision, so the log keeps it once, and a position the read model already holds at that
revision is not even appended. A page's positions are appended at once (in no particular
order: each stands alone), which the SQL log commits together.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping

from domain.events import utc_now
from process_apis.freshness import SourceFreshness
from process_apis.polling import FeedLease, Heard, PollOutcome, poll_until_stopped
from stores.bundle import Stores
from stores.cursors import CursorStore
from stores.dead_letters import DeadLetterStore
from stores.event_log import EventLog
from stores.inventory import PositionKey, position_key
from system_apis.bundle import SystemClients
from system_apis.context import correlation_scope
from system_apis.wms.events import position_envelope
from system_apis.wms.models import PositionBatch

logger = logging.getLogger(__name__)

WMS_POSITIONS = "wms-positions"
"""The feed's name: its cursor and lease are kept under it."""

WMS_PAGE_SIZE = 500
"""Positions per request; the WMS answers at most 500."""

START_OVER = ""
"""The stored cursor once a sweep has read the last page: the next one starts from the top."""

FetchPositions = Callable[[str | None], Awaitable[PositionBatch]]
"""One page of the stock listing after a cursor (None: from the start)."""

KnownRevisions = Callable[[Iterable[PositionKey]], Awaitable[Mapping[PositionKey, int]]]
"""The revision the read model holds for each position it has."""


class PositionPoller:
    """Sweeps the WMS's stock listing into the event log as `inventory.position` events."""

    def __init__(
        self,
        *,
        fetch: FetchPositions,
        event_log: EventLog,
        known: KnownRevisions,
        dead_letters: DeadLetterStore,
        cursors: CursorStore,
        max_batches: int = 20,
        lease: FeedLease | None = None,
        source: str = WMS_POSITIONS,
        heard: Heard | None = None,
    ) -> None:
        if max_batches < 1:
            raise ValueError("max_batches must be at least 1")
        self.source = source
        self._fetch = fetch
        self._event_log = event_log
        self._known = known
        self._dead_letters = dead_letters
        self._cursors = cursors
        self._max_batches = max_batches
        self._lease = lease
        self._heard = heard

    async def poll_once(self) -> PollOutcome:
        """One bounded round; a `BackendError` leaves the cursor at the last handled page.
        `recorded` counts positions appended, `duplicates` those already known."""
        correlation_id = f"poll-{self.source}-{uuid.uuid4().hex[:12]}"
        with correlation_scope(correlation_id):
            cursor = await self._cursors.get(self.source)
            recorded = duplicates = rejected = 0
            for _ in range(self._max_batches):
                if self._lease is not None and not await self._lease.hold(self.source):
                    return PollOutcome(recorded, duplicates, rejected, cursor, held=False)
                batch = await self._fetch(cursor or None)
                held = await self._known(position_key(p) for p in batch.positions)
                received_at = utc_now()
                changed = [
                    position_envelope(
                        position, received_at=received_at, correlation_id=correlation_id
                    )
                    for position in batch.positions
                    if held.get(position_key(position), -1) < (position.revision or 0)
                ]
                duplicates += len(batch.positions) - len(changed)
                behind = sum(
                    held.get(position_key(position), -1) > (position.revision or 0)
                    for position in batch.positions
                )
                if behind:
                    logger.warning(
                        "the WMS lists %d positions at a lower revision than the inventory read "
                        "model holds (a WMS restored from a backup?); they are not applied",
                        behind,
                    )
                appended = await asyncio.gather(*map(self._event_log.append, changed))
                new = sum(not result.duplicate for result in appended)
                recorded += new
                duplicates += len(appended) - new
                for record in batch.rejected:
                    await self._dead_letters.put(
                        source=self.source,
                        reason=record.reason,
                        content_type="application/json",
                        headers={},
                        body=record.raw,
                        correlation_id=correlation_id,
                    )
                rejected += len(batch.rejected)
                moved_to = batch.cursor or START_OVER
                if moved_to != (cursor or START_OVER):
                    if not await self._cursors.put(self.source, moved_to, expected=cursor):
                        logger.warning("polling %s: another process moved the cursor", self.source)
                        return PollOutcome(
                            recorded, duplicates, rejected, await self._cursors.get(self.source)
                        )
                    cursor = moved_to
                if batch.cursor is None:
                    return PollOutcome(recorded, duplicates, rejected, cursor)
        return PollOutcome(recorded, duplicates, rejected, cursor, drained=False)

    async def run(self, interval_s: float, stop: asyncio.Event) -> None:
        await poll_until_stopped(
            self.source, self.poll_once, interval_s, stop, self._lease, heard=self._heard
        )


def build_position_poller(
    clients: SystemClients,
    stores: Stores,
    *,
    lease: FeedLease | None = None,
    max_batches: int = 20,
    freshness: SourceFreshness | None = None,
) -> PositionPoller:
    """The WMS stock sweep; given `freshness`, each completed round is hearing from the WMS."""

    async def stock_listing(after: str | None) -> PositionBatch:
        return await clients.wms.positions_batch(cursor=after, limit=WMS_PAGE_SIZE)

    return PositionPoller(
        fetch=stock_listing,
        event_log=stores.event_log,
        known=stores.inventory.revisions,
        dead_letters=stores.dead_letters,
        cursors=stores.cursors,
        max_batches=max_batches,
        lease=lease,
        heard=freshness.listener("wms") if freshness is not None else None,
    )
