"""The event backbone's log: append-only, deduplicated by event id, replayable by position.

`append` returns only once the event is durable, so an ingress may acknowledge its sender right
after it. Two implementations: SQL (the embedded SQLite default, or PostgreSQL) and NATS
JetStream (`stores.jetstream`) for several replicas.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import orjson
from sqlalchemy import BigInteger, Column, Integer, String, Table, Text, bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.events import (
    ENVELOPE_TEXT_LIMITS,
    EventEnvelope,
    envelope_from_dict,
    envelope_to_dict,
)
from stores.sql import METADATA, insert_into

EVENTS = Table(
    "event_log",
    METADATA,
    Column(
        "position",
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("event_id", String(ENVELOPE_TEXT_LIMITS["event_id"]), nullable=False, unique=True),
    Column("event_type", String(ENVELOPE_TEXT_LIMITS["event_type"]), nullable=False),
    Column(
        "aggregate_id", String(ENVELOPE_TEXT_LIMITS["aggregate_id"]), nullable=False, index=True
    ),
    Column("envelope", Text, nullable=False),
)


class EventLogUnavailable(Exception):
    """The log's engine cannot be reached right now; nothing was appended, try again later.

    Raised at once rather than after a wait, so whoever appends can answer its own caller
    (an ingress: 503 with Retry-After) while that caller is still listening.
    """


@dataclass(frozen=True, slots=True)
class AppendResult:
    position: int
    duplicate: bool


@dataclass(frozen=True, slots=True)
class StoredEvent:
    position: int
    envelope: EventEnvelope


class EventLog(Protocol):
    async def append(self, envelope: EventEnvelope) -> AppendResult: ...

    async def append_all(self, envelopes: Sequence[EventEnvelope]) -> list[AppendResult]:
        """`append` of each, in their order, as one call: a delivery's events are durable once
        it returns (a second copy of an event id among them is a duplicate)."""
        ...

    async def read(self, *, after: int = 0, limit: int = 100) -> Sequence[StoredEvent]: ...

    async def ping(self) -> None:
        """Returns when the log can take appends now; raises otherwise (readiness checks)."""
        ...

    async def close(self) -> None: ...


class AppendSignal:
    """An in-process wake-up for whoever follows the log: notified after every append (and by
    consumers after they progress), so a follower in this process reacts at once instead of at
    its next poll. Appends made by other processes are still found by polling."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.last_position = 0
        """The highest position an append here was notified with: a follower that applied up
        to it has nothing of this process's left to read, and can wait for the next append."""

    def notify(self, position: int = 0) -> None:
        """Wake every current waiter; later waiters wait for the next notification."""
        if position > self.last_position:
            self.last_position = position
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout_s: float) -> bool:
        """True when notified within `timeout_s`, False when the time ran out."""
        try:
            await asyncio.wait_for(self._event.wait(), timeout=timeout_s)
        except TimeoutError:
            return False
        return True


class SignallingEventLog:
    """An event log that notifies `signal` after each append that stored something new."""

    def __init__(self, log: EventLog, signal: AppendSignal) -> None:
        self.inner = log
        self.signal = signal

    async def append(self, envelope: EventEnvelope) -> AppendResult:
        result = await self.inner.append(envelope)
        if not result.duplicate:
            self.signal.notify(result.position)
        return result

    async def append_all(self, envelopes: Sequence[EventEnvelope]) -> list[AppendResult]:
        results = await self.inner.append_all(envelopes)
        stored = [result.position for result in results if not result.duplicate]
        if stored:
            self.signal.notify(max(stored))
        return results

    async def read(self, *, after: int = 0, limit: int = 100) -> Sequence[StoredEvent]:
        return await self.inner.read(after=after, limit=limit)

    async def ping(self) -> None:
        await self.inner.ping()

    async def close(self) -> None:
        await self.inner.close()


APPEND_LOCK_KEY = 0x6C6F675F6170
"""PostgreSQL advisory lock held by each append transaction, so positions commit in order."""

MAX_APPEND_BATCH = 500
"""Appends committed together in one transaction at most."""

DECODED_EVENTS_KEPT = 20_000
"""Recently read events a log keeps decoded: every projection, the subscription hub and the
workflow triggers read the same new events, and decoding each once is enough."""


FetchEvents = Callable[[int, int, Callable[[], None]], Awaitable[list[StoredEvent]]]
"""An engine's read of up to `limit` events after a position, all it holds up to the last; it
calls its third argument just before it asks the engine."""


@dataclass(slots=True)
class _Reading:
    limit: int
    events: asyncio.Future[list[StoredEvent]] = field(init=False)
    joinable: bool = True
    """Until the engine is asked: a reader that joins then gets what the engine holds after
    its own call, as if it had asked itself."""


class DecodedEvents:
    """Events by position, decoded once for all of a process's readers; a log's rows never
    change once written, so a position read again is the same event.

    It also remembers which event follows which: a read returns every event after a position
    up to its last one, and the log makes events visible in position order, so no event can
    appear later between two a read returned one after the other. The next reader after one of
    those positions then gets the rest of that run from here, without asking the engine
    (`run_after`): every projection, the subscription hub and the workflow triggers read the
    same new events, and one of them asking is enough. Readers that reach the end of what is
    known together, as a process's consumers woken by one append do, share one read (`read`).
    """

    def __init__(self, capacity: int = DECODED_EVENTS_KEPT) -> None:
        self._capacity = capacity
        self._events: OrderedDict[int, StoredEvent] = OrderedDict()
        self._following: OrderedDict[int, int] = OrderedDict()
        """The position of the event that comes next in the log, by the position before it
        (an event's, or the position a read started after)."""
        self._reading: dict[int, _Reading] = {}
        """The engine read under way after a position."""

    async def read(self, after: int, limit: int, fetch: FetchEvents) -> list[StoredEvent]:
        """Up to `limit` events after `after`, every one the log holds up to the last: the run
        known here, then what `fetch` finds after it (and remembered)."""
        known = self.run_after(after, limit)
        if len(known) == limit:
            return known
        start = known[-1].position if known else after
        return known + await self._fetched_after(start, limit - len(known), fetch)

    async def _fetched_after(self, after: int, limit: int, fetch: FetchEvents) -> list[StoredEvent]:
        """One engine read for every reader after `after` that comes before it is sent: what
        it finds is then no older than any of their calls."""
        reading = self._reading.get(after)
        if reading is None or not reading.joinable or reading.limit < limit:
            reading = self._reading[after] = _Reading(limit)
            reading.events = asyncio.ensure_future(self._fetched(after, reading, fetch))
            reading.events.add_done_callback(lambda _: self._read_done(after, reading))
        events = await asyncio.shield(reading.events)  # one reader's cancellation is its own
        return events[:limit]

    async def _fetched(
        self, after: int, reading: _Reading, fetch: FetchEvents
    ) -> list[StoredEvent]:
        def sending() -> None:
            reading.joinable = False

        events = await fetch(after, reading.limit, sending)
        self.read_run(after, events)
        return events

    def _read_done(self, after: int, reading: _Reading) -> None:
        if self._reading.get(after) is reading:
            del self._reading[after]
        if not reading.events.cancelled():
            reading.events.exception()  # retrieved: when every reader went away, nobody else will

    def known(self, position: int) -> StoredEvent | None:
        return self._events.get(position)

    def event(self, position: int, encoded: str | bytes) -> StoredEvent:
        known = self._events.get(position)
        if known is not None:
            return known
        stored = StoredEvent(position=position, envelope=envelope_from_dict(orjson.loads(encoded)))
        self._events[position] = stored
        if len(self._events) > self._capacity:
            self._events.popitem(last=False)
        return stored

    def read_run(self, after: int, events: Sequence[StoredEvent]) -> None:
        """`events` are all the log holds after `after` up to the last of them, in order."""
        following = self._following
        previous = after
        for stored in events:
            following[previous] = stored.position
            previous = stored.position
        while len(following) > self._capacity:
            following.popitem(last=False)

    def run_after(self, after: int, limit: int) -> list[StoredEvent]:
        """Up to `limit` events known to follow `after` one after the other, in log order;
        empty when the event after `after` is not known (yet)."""
        run: list[StoredEvent] = []
        following, events = self._following, self._events
        position = after
        while len(run) < limit:
            next_position = following.get(position)
            if next_position is None:
                break
            stored = events.get(next_position)
            if stored is None:
                break
            run.append(stored)
            position = next_position
        return run


def _retrieve_failure(result: asyncio.Future[AppendResult]) -> None:
    if not result.cancelled():
        result.exception()


class SqlEventLog:
    """The log as a table; the unique event id makes a redelivered event a no-op.

    Appends are committed in groups: concurrent `append` calls wait while one transaction
    stores every event queued so far, so one fsync serves them all (each still returns only
    once its event is durable). On PostgreSQL each append transaction holds one advisory lock,
    so positions become visible in the order they were given: a follower reading past its
    position never skips an event committed late with a lower position, even with several
    processes appending.
    """

    def __init__(self, engine: AsyncEngine, *, max_batch: int = MAX_APPEND_BATCH) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._decoded = DecodedEvents()
        self._read = (
            select(EVENTS.c.position, EVENTS.c.envelope)
            .where(EVENTS.c.position > bindparam("after"))
            .order_by(EVENTS.c.position)
            .limit(bindparam("limit"))
        )
        self._queued: list[tuple[EventEnvelope, asyncio.Future[AppendResult]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def append(self, envelope: EventEnvelope) -> AppendResult:
        result: asyncio.Future[AppendResult] = asyncio.get_running_loop().create_future()
        self._queued.append((envelope, result))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_queued())
        return await asyncio.shield(result)

    async def append_all(self, envelopes: Sequence[EventEnvelope]) -> list[AppendResult]:
        """Queued at once, so they go in one transaction unless the queue's batch is full,
        and one wait for them all: the writer settles appends in the order they were queued,
        so once the last is settled every one is."""
        loop = asyncio.get_running_loop()
        results: list[asyncio.Future[AppendResult]] = []
        for envelope in envelopes:
            result: asyncio.Future[AppendResult] = loop.create_future()
            self._queued.append((envelope, result))
            results.append(result)
        if not results:
            return []
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_queued())
        try:
            await asyncio.wait([results[-1]])
        except asyncio.CancelledError:
            for result in results:  # the appends go on; their failures are nobody's now
                result.add_done_callback(_retrieve_failure)
            raise
        failures = [result.exception() for result in results]  # each one's is retrieved
        for failure in failures:
            if failure is not None:
                raise failure
        return [result.result() for result in results]

    async def _write_queued(self) -> None:
        while self._queued:
            batch = self._queued[: self._max_batch]
            del self._queued[: self._max_batch]
            try:
                results = await self._commit([envelope for envelope, _ in batch])
            except Exception as error:
                for _, waiting in batch:
                    if not waiting.done():
                        waiting.set_exception(error)
                continue
            for (_, waiting), result in zip(batch, results, strict=True):
                if not waiting.done():
                    waiting.set_result(result)

    async def _commit(self, envelopes: Sequence[EventEnvelope]) -> list[AppendResult]:
        """One transaction for the batch; a second copy of an event id in it is a duplicate."""
        rows: dict[str, dict[str, str]] = {}
        for envelope in envelopes:
            rows.setdefault(
                envelope.event_id,
                {
                    "event_id": envelope.event_id,
                    "event_type": envelope.event_type,
                    "aggregate_id": envelope.aggregate_id,
                    "envelope": orjson.dumps(envelope_to_dict(envelope)).decode(),
                },
            )
        statement = (
            insert_into(self._engine, EVENTS)
            .on_conflict_do_nothing(index_elements=[EVENTS.c.event_id])
            .returning(EVENTS.c.event_id, EVENTS.c.position)
        )  # compiled once and cached; the driver layer sends the rows as multi-row INSERTs
        async with self._engine.begin() as connection:
            if self._engine.dialect.name == "postgresql":
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": APPEND_LOCK_KEY}
                )
            stored = {
                row.event_id: int(row.position)
                for row in await connection.execute(statement, list(rows.values()))
            }
            known = [event_id for event_id in rows if event_id not in stored]
            earlier = {}
            if known:
                query = select(EVENTS.c.event_id, EVENTS.c.position).where(
                    EVENTS.c.event_id.in_(known)
                )
                earlier = {
                    row.event_id: int(row.position) for row in await connection.execute(query)
                }
        results = []
        for envelope in envelopes:
            event_id = envelope.event_id
            if event_id in stored:
                results.append(AppendResult(position=stored.pop(event_id), duplicate=False))
                earlier[event_id] = results[-1].position
            else:
                results.append(AppendResult(position=earlier[event_id], duplicate=True))
        return results

    async def read(self, *, after: int = 0, limit: int = 100) -> Sequence[StoredEvent]:
        """What another reader of this process read already comes from memory; only readers
        at the end of what is known ask the database, once for all of them (`DecodedEvents`)."""
        return await self._decoded.read(after, limit, self._fetch)

    async def _fetch(
        self, after: int, limit: int, sending: Callable[[], None]
    ) -> list[StoredEvent]:
        async with self._engine.connect() as connection:
            sending()
            rows = (await connection.execute(self._read, {"after": after, "limit": limit})).all()
        return [self._decoded.event(int(row.position), row.envelope) for row in rows]

    async def ping(self) -> None:
        async with self._engine.connect() as connection:
            await connection.execute(select(1))

    async def close(self) -> None:
        """The engine belongs to whoever built it; nothing of the log's own to release."""
