"""Polling the backends that only answer when asked: RoadLine's status feed, Heritage's outbox
(carrier milestones), the TMS's bookings (`shipment.booked` events) and the ERP's change log of
sales orders (`order.changed` events).

A round reads the stored cursor, then pulls batches until the feed is drained (at most
`max_batches`, so one round stays short and the loop can notice a stop). Each batch is handled
in an order that makes a crash harmless: its events are appended to the event log (the one
write; read models are projections of the log), rejected records are kept as dead letters, and
only then is the batch's cursor stored. A crash therefore re-reads a batch but never skips one,
and re-reading costs nothing because the log deduplicates by event id.

Several gateway processes share the feeds: a round runs only while its process holds the
feed's lease (`FeedLease`, in the shared SQL store; another process takes it over when the
holder stops renewing it), and the cursor moves by compare-and-set only, so a holder that lost
its lease without noticing cannot move a cursor backwards.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from domain.events import utc_now
from domain.shipments import Milestone
from process_apis.freshness import SourceFreshness
from process_apis.ownership import OrderOwnership
from process_apis.tracking import MilestoneRecorder
from stores.bundle import Stores
from stores.cursors import CursorStore
from stores.dead_letters import DeadLetterStore
from stores.event_log import EventLog
from system_apis.bundle import SystemClients
from system_apis.context import correlation_scope
from system_apis.erp.changes import OrderChange, OrderChangeBatch
from system_apis.erp.events import order_changed_envelope
from system_apis.errors import BackendError, BackendThrottled, BackendUnavailable
from system_apis.milestones import MilestoneBatch, RejectedRecord
from system_apis.paging import Page
from system_apis.tms.events import booked_envelope
from system_apis.tms.models import Booking

logger = logging.getLogger(__name__)

ROADLINE_PAGE_SIZE = 500
"""Status rows per request; RoadLine answers at most 1000."""

MAX_BACKOFF_FACTOR = 8
"""After repeated failures the wait grows to at most this many poll intervals."""

TMS_PAGE_SIZE = 200
"""Bookings per request; the TMS answers at most 500."""

ERP_CHANGES_PAGE_SIZE = 200
"""Order changes per request; the ERP answers at most 200."""

ERP_ORDERS_FEED = "erp-orders"
"""The ERP order feed's name: its cursor, and its lease `poll:erp-orders`."""

FetchBatch = Callable[[str | None], Awaitable[MilestoneBatch]]
"""One pull from a feed after a cursor (None: from the start)."""

FetchBookings = Callable[[str | None], Awaitable[Page[Booking]]]
"""One page of TMS bookings after a cursor (None: from the start)."""

Backfill = Callable[[str], Awaitable[Sequence[Milestone]]]
"""Asks a carrier for a tracking number's events so far."""

BACKFILL_CONCURRENCY = 8
"""Carrier history requests in flight at once while a page of new bookings is backfilled."""

T = TypeVar("T")
R_co = TypeVar("R_co", covariant=True)

Heard = Callable[[], Awaitable[None]]
"""Told after every round this process polled to its end: the backend was heard from."""


class LeaseStore(Protocol):
    async def acquire(self, name: str, holder: str, ttl_s: float) -> bool: ...

    async def release(self, name: str, holder: str) -> None: ...


@dataclass(frozen=True, slots=True)
class FeedLease:
    """This process's claim on a feed: taken or renewed before every batch, released when
    polling stops, and taken over by another process once `ttl_s` passes without renewal."""

    leases: LeaseStore
    holder_id: str
    ttl_s: float

    async def hold(self, feed: str) -> bool:
        return await self.leases.acquire(_lease_name(feed), self.holder_id, self.ttl_s)

    async def release(self, feed: str) -> None:
        await self.leases.release(_lease_name(feed), self.holder_id)


def _lease_name(feed: str) -> str:
    return f"poll:{feed}"


@dataclass(frozen=True, slots=True)
class PollOutcome:
    """One round: milestones new to the history, ones already known, records set aside.

    `drained` is False when the round stopped at its batch bound with more left to read;
    `held` is False when another process holds the feed's lease (nothing was read).
    """

    recorded: int
    duplicates: int
    rejected: int
    cursor: str | None
    drained: bool = True
    held: bool = True


class PulledBatch(Protocol[R_co]):
    """One pull from a feed: the records that mapped, the ones that did not (kept whole for
    the dead letters) and the feed's cursor after them."""

    @property
    def records(self) -> Sequence[R_co]: ...

    @property
    def rejected(self) -> Sequence[RejectedRecord]: ...

    @property
    def cursor(self) -> str | None: ...


RecordBatch = Callable[[Sequence[Any], str], Awaitable[tuple[int, int]]]
"""Makes a batch's records durable (in the event log); answers (new, already known)."""


class FeedPoller:
    """Pulls one feed of records into the event log (through `record`) and the dead letters,
    moving its cursor by compare-and-set only after both are durable."""

    def __init__(
        self,
        *,
        source: str,
        fetch: Callable[[str | None], Awaitable[PulledBatch[Any]]],
        content_type: str,
        record: RecordBatch,
        dead_letters: DeadLetterStore,
        cursors: CursorStore,
        max_batches: int = 20,
        lease: FeedLease | None = None,
        heard: Heard | None = None,
    ) -> None:
        if max_batches < 1:
            raise ValueError("max_batches must be at least 1")
        self.source = source
        self._fetch = fetch
        self._content_type = content_type
        self._record = record
        self._dead_letters = dead_letters
        self._cursors = cursors
        self._max_batches = max_batches
        self._lease = lease
        self._heard = heard

    async def poll_once(self) -> PollOutcome:
        """One bounded round; a `BackendError` leaves the cursor at the last handled batch."""
        correlation_id = f"poll-{self.source}-{uuid.uuid4().hex[:12]}"
        with correlation_scope(correlation_id):
            cursor = await self._cursors.get(self.source)
            recorded = duplicates = rejected = 0
            for _ in range(self._max_batches):
                if self._lease is not None and not await self._lease.hold(self.source):
                    return PollOutcome(recorded, duplicates, rejected, cursor, held=False)
                batch = await self._fetch(cursor)
                new, known = await self._record(batch.records, correlation_id)
                recorded += new
                duplicates += known
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
                if moved_to is None or not (batch.records or batch.rejected):
                    return PollOutcome(recorded, duplicates, rejected, cursor)
        return PollOutcome(recorded, duplicates, rejected, cursor, drained=False)

    async def run(self, interval_s: float, stop: asyncio.Event) -> None:
        await poll_until_stopped(
            self.source, self.poll_once, interval_s, stop, self._lease, heard=self._heard
        )


class CarrierPoller(FeedPoller):
    """Pulls one carrier feed into the event log (as milestones) and the dead letters."""

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
        lease: FeedLease | None = None,
        heard: Heard | None = None,
    ) -> None:
        async def record(milestones: Sequence[Milestone], correlation_id: str) -> tuple[int, int]:
            outcome = await recorder.record(milestones, correlation_id=correlation_id)
            return len(outcome.recorded), outcome.duplicates

        super().__init__(
            source=source,
            fetch=fetch,
            content_type=content_type,
            record=record,
            dead_letters=dead_letters,
            cursors=cursors,
            max_batches=max_batches,
            lease=lease,
            heard=heard,
        )


def order_change_recorder(event_log: EventLog) -> RecordBatch:
    """Appends each ERP order change to the log as an `order.changed` event. A page's changes
    are appended at once, in the ERP's order (the log takes appends in the order they are
    made, and the SQL log commits them together)."""

    async def record(changes: Sequence[OrderChange], correlation_id: str) -> tuple[int, int]:
        received_at = utc_now()
        envelopes = [
            order_changed_envelope(change, received_at=received_at, correlation_id=correlation_id)
            for change in changes
        ]
        appended = await asyncio.gather(*map(event_log.append, envelopes))
        new = sum(not result.duplicate for result in appended)
        return new, len(appended) - new

    return record


class BookingPoller:
    """Pulls the TMS's bookings into the event log as `shipment.booked` events.

    The tenant of each booking (the TMS does not know it) is its order's owner, asked of the
    ERP once per page (and cached); when the ERP cannot answer the events go without it and
    the read path asks the ERP later.

    A carrier that pushes its events (SwiftParcel) only pushes what happens after we listen;
    so for each booking new to the log its history so far is asked of the carrier once
    (`backfill`, by carrier code) and recorded like any other milestones."""

    def __init__(
        self,
        *,
        fetch: FetchBookings,
        event_log: EventLog,
        owners: OrderOwnership,
        cursors: CursorStore,
        recorder: MilestoneRecorder,
        backfill: Mapping[str, Backfill] | None = None,
        max_batches: int = 20,
        lease: FeedLease | None = None,
        source: str = "tms-bookings",
        heard: Heard | None = None,
    ) -> None:
        if max_batches < 1:
            raise ValueError("max_batches must be at least 1")
        self.source = source
        self._fetch = fetch
        self._event_log = event_log
        self._owners = owners
        self._cursors = cursors
        self._recorder = recorder
        self._backfill = backfill or {}
        self._max_batches = max_batches
        self._lease = lease
        self._heard = heard

    async def poll_once(self) -> PollOutcome:
        """One bounded round; the TMS names no cursor after its last page, so that page is
        read again next round (its events are duplicates the log drops)."""
        correlation_id = f"poll-{self.source}-{uuid.uuid4().hex[:12]}"
        with correlation_scope(correlation_id):
            cursor = await self._cursors.get(self.source)
            recorded = duplicates = 0
            for _ in range(self._max_batches):
                if self._lease is not None and not await self._lease.hold(self.source):
                    return PollOutcome(recorded, duplicates, 0, cursor, held=False)
                page = await self._fetch(cursor)
                bookings = [b for b in page.items if b.shipment.tracking_number]
                tenants = await self._tenants(bookings)
                received_at = utc_now()
                new: list[Booking] = []
                for booking in bookings:
                    appended = await self._event_log.append(
                        booked_envelope(
                            booking,
                            tenant_id=tenants.get(booking.shipment.order_id),
                            received_at=received_at,
                            correlation_id=correlation_id,
                        )
                    )
                    duplicates += appended.duplicate
                    recorded += not appended.duplicate
                    if not appended.duplicate:
                        new.append(booking)
                await self._fill_histories(new, correlation_id)
                moved_to = page.next_token if page.next_token not in (None, cursor) else None
                if moved_to is None:
                    return PollOutcome(recorded, duplicates, 0, cursor)
                if not await self._cursors.put(self.source, moved_to, expected=cursor):
                    logger.warning("polling %s: another process moved the cursor", self.source)
                    return PollOutcome(
                        recorded, duplicates, 0, await self._cursors.get(self.source)
                    )
                cursor = moved_to
        return PollOutcome(recorded, duplicates, 0, cursor, drained=False)

    async def _fill_histories(self, bookings: list[Booking], correlation_id: str) -> None:
        """Each new booking's history so far, from carriers that only push what is new; a
        carrier that cannot answer now costs its past events, never the bookings."""
        limit = asyncio.Semaphore(BACKFILL_CONCURRENCY)

        async def fill(booking: Booking) -> None:
            ask = self._backfill.get(booking.shipment.carrier)
            if ask is None:
                return
            async with limit:
                try:
                    milestones = await ask(booking.shipment.tracking_number)
                except BackendError as error:
                    logger.warning(
                        "history of %s not backfilled: %s",
                        booking.shipment.tracking_number,
                        error.public_message,
                    )
                    return
                await self._recorder.record(milestones, correlation_id=correlation_id)

        await asyncio.gather(*(fill(booking) for booking in bookings))

    async def _tenants(self, bookings: list[Booking]) -> dict[str, str]:
        order_ids = list({booking.shipment.order_id for booking in bookings})
        try:
            return dict(await self._owners.owners_of(order_ids))
        except BackendError as error:
            logger.warning(
                "order owners unknown for %d bookings (%s); recorded without tenant",
                len(bookings),
                error.public_message,
            )
            return {}

    async def run(self, interval_s: float, stop: asyncio.Event) -> None:
        await poll_until_stopped(
            self.source, self.poll_once, interval_s, stop, self._lease, heard=self._heard
        )


async def poll_until_stopped(
    source: str,
    poll_once: Callable[[], Awaitable[PollOutcome]],
    interval_s: float,
    stop: asyncio.Event,
    lease: FeedLease | None = None,
    *,
    heard: Heard | None = None,
) -> None:
    """Poll every `interval_s` until `stop` is set; backend failures are waited out, longer
    each time, because a backend that is down must not end polling for good. On the way out
    the feed's lease is released, so another process takes the feed over at once.

    `heard` is told after each round this process held and finished (even an empty one): the
    backend answered, which is what the answers' freshness is measured by."""
    failures = 0
    try:
        while not stop.is_set():
            delay = interval_s
            try:
                outcome = await _unless_stopped(poll_once(), stop)
            except BackendError as error:
                failures += 1
                delay = _backoff(interval_s, failures, error)
                logger.warning(
                    "polling %s failed (%s); next try in %.1fs",
                    source,
                    error.public_message,
                    delay,
                )
            except Exception:  # a store failure must not end polling silently either
                failures += 1
                delay = _backoff(interval_s, failures, None)
                logger.exception("polling %s failed; next try in %.1fs", source, delay)
            else:
                if outcome is None:
                    return
                failures = 0
                if heard is not None and outcome.held:
                    await _tell(heard, source)
                if not outcome.drained:
                    delay = 0.0
            if await _stopped_within(stop, delay):
                return
    finally:
        if lease is not None:
            try:
                await lease.release(source)
            except Exception:  # the lease then simply expires
                logger.warning("releasing the %s lease failed", source, exc_info=True)


def build_pollers(
    clients: SystemClients,
    stores: Stores,
    recorder: MilestoneRecorder,
    *,
    owners: OrderOwnership | None = None,
    lease: FeedLease | None = None,
    max_batches: int = 20,
    freshness: SourceFreshness | None = None,
) -> tuple[FeedPoller | BookingPoller, ...]:
    """A poller per feed that has to be asked: RoadLine's feed, Heritage's outbox, the ERP's
    order changes and, given `owners` (who owns an order), the TMS's bookings. Given
    `freshness`, each completed round counts as hearing from its backend."""

    def heard(backend: str) -> Heard | None:
        return freshness.listener(backend) if freshness is not None else None

    async def roadline_updates(after: str | None) -> MilestoneBatch:
        return await clients.roadline.status_updates(after, limit=ROADLINE_PAGE_SIZE)

    async def tms_bookings(after: str | None) -> Page[Booking]:
        return await clients.tms.bookings_page(cursor=after, limit=TMS_PAGE_SIZE)

    def poller(source: str, backend: str, fetch: FetchBatch, content_type: str) -> CarrierPoller:
        return CarrierPoller(
            source=source,
            fetch=fetch,
            content_type=content_type,
            recorder=recorder,
            dead_letters=stores.dead_letters,
            cursors=stores.cursors,
            max_batches=max_batches,
            lease=lease,
            heard=heard(backend),
        )

    async def erp_order_changes(after: str | None) -> OrderChangeBatch:
        return await clients.erp.order_changes(after, limit=ERP_CHANGES_PAGE_SIZE)

    orders = FeedPoller(
        source=ERP_ORDERS_FEED,
        fetch=erp_order_changes,
        content_type="application/json",
        record=order_change_recorder(stores.event_log),
        dead_letters=stores.dead_letters,
        cursors=stores.cursors,
        max_batches=max_batches,
        lease=lease,
        heard=heard("erp"),
    )
    carriers = (
        poller("roadline", "roadline", roadline_updates, "application/json"),
        poller("heritage-outbox", "heritage", clients.heritage.outbox, "application/edi-x12"),
    )
    if owners is None:
        return (*carriers, orders)
    bookings = BookingPoller(
        fetch=tms_bookings,
        event_log=stores.event_log,
        owners=owners,
        cursors=stores.cursors,
        recorder=recorder,
        backfill={"SWFT": clients.swiftparcel.track},
        max_batches=max_batches,
        lease=lease,
        heard=heard("tms"),
    )
    return (*carriers, orders, bookings)


async def _tell(heard: Heard, source: str) -> None:
    """A store that cannot note the round must not end polling: the answers only look older."""
    try:
        await heard()
    except Exception as error:
        logger.warning(
            "noting that %s answered failed: %s: %s", source, type(error).__name__, error
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
