"""The event log's promises, held by every engine: durable append, dedupe by id, replay in order."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import event

from domain import EventEnvelope, SourceSystem
from domain.events import envelope_to_dict
from stores import EventLog, SqlEventLog, create_tables, open_engine
from stores.event_log import AppendResult, AppendSignal, DecodedEvents, SignallingEventLog
from stores.jetstream import JetStreamEventLog


def make_event(event_id: str, minutes: int = 0) -> EventEnvelope:
    occurred = datetime(2026, 11, 20, 9, 0, tzinfo=UTC) + timedelta(minutes=minutes)
    return EventEnvelope(
        event_id=event_id,
        event_type="milestone.recorded",
        source=SourceSystem.CARRIER,
        source_name="swiftparcel",
        aggregate_type="shipment",
        aggregate_id="SP0000000001",
        occurred_at=occurred,
        received_at=occurred + timedelta(seconds=3),
        correlation_id="corr-1",
        tenant_id="C-1001",
        payload={"status": "IN_TRANSIT", "carrier_code": "IT"},
    )


@pytest.fixture(params=["sqlite", "postgresql", "jetstream"])
async def event_log(request, tmp_path) -> AsyncIterator[EventLog]:
    if request.param == "jetstream":
        nats_url = request.getfixturevalue("nats_url")
        log = await JetStreamEventLog.connect(
            nats_url,
            stream=f"TEST_{uuid.uuid4().hex[:10].upper()}",
            subject_prefix=f"test.{uuid.uuid4().hex[:10]}",
        )
        yield log
        await log._js.delete_stream(log._stream)
        await log.close()
        return
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'events.sqlite3'}"
    engine = open_engine(url)
    await create_tables(engine)
    yield SqlEventLog(engine)
    await engine.dispose()


async def test_appended_events_are_read_back_in_order_with_their_envelope(event_log):
    ids = [f"evt-{uuid.uuid4().hex}" for _ in range(5)]
    positions = [(await event_log.append(make_event(i, n))).position for n, i in enumerate(ids)]
    assert positions == sorted(positions), "positions must grow with each append"
    stored = await event_log.read(after=positions[0] - 1, limit=10)
    mine = [event for event in stored if event.envelope.event_id in ids]
    assert [event.envelope.event_id for event in mine] == ids
    first = mine[0].envelope
    assert first == make_event(ids[0], 0)
    assert first.occurred_at.tzinfo is not None


async def test_a_redelivered_event_is_recognised_and_not_appended_twice(event_log):
    event = make_event(f"evt-{uuid.uuid4().hex}")
    first = await event_log.append(event)
    second = await event_log.append(event)
    assert not first.duplicate
    assert second.duplicate
    assert second.position == first.position
    stored = await event_log.read(after=first.position - 1, limit=10)
    assert [e.envelope.event_id for e in stored].count(event.event_id) == 1


async def test_reading_past_the_end_returns_nothing(event_log):
    result = await event_log.append(make_event(f"evt-{uuid.uuid4().hex}"))
    assert await event_log.read(after=result.position, limit=10) == []


async def test_the_same_event_appended_at_once_is_stored_once(event_log):
    event = make_event(f"evt-{uuid.uuid4().hex}")
    results = await asyncio.gather(*(event_log.append(event) for _ in range(10)))
    assert [result.duplicate for result in results].count(False) == 1
    assert len({result.position for result in results}) == 1
    stored = await event_log.read(after=results[0].position - 1, limit=10)
    assert [e.envelope.event_id for e in stored].count(event.event_id) == 1


async def test_a_burst_of_concurrent_appends_gets_one_position_each(event_log):
    ids = [f"evt-{uuid.uuid4().hex}" for _ in range(300)]
    results = await asyncio.gather(*(event_log.append(make_event(i)) for i in ids + ids[:50]))
    fresh, again = results[:300], results[300:]
    assert not any(result.duplicate for result in fresh)
    assert all(result.duplicate for result in again)
    assert len({result.position for result in fresh}) == 300
    assert [result.position for result in again] == [result.position for result in fresh[:50]]
    stored = await event_log.read(after=min(r.position for r in fresh) - 1, limit=400)
    assert sorted(e.envelope.event_id for e in stored if e.envelope.event_id in set(ids)) == sorted(
        ids
    )


async def test_a_delivery_appended_at_once_is_stored_in_order_with_its_repeats_as_duplicates(
    event_log,
):
    earlier = make_event(f"evt-{uuid.uuid4().hex}")
    before = await event_log.append(earlier)
    ids = [f"evt-{uuid.uuid4().hex}" for _ in range(5)]
    delivery = [make_event(i, n) for n, i in enumerate(ids)]
    results = await event_log.append_all([*delivery, earlier, delivery[1]])
    fresh = results[:5]
    assert not any(result.duplicate for result in fresh)
    assert [r.position for r in fresh] == sorted({r.position for r in fresh}), "in their order"
    assert results[5] == AppendResult(position=before.position, duplicate=True)
    assert results[6].duplicate and results[6].position == fresh[1].position
    stored = await event_log.read(after=before.position, limit=20)
    assert [e.envelope for e in stored if e.envelope.event_id in ids] == delivery
    assert await event_log.append_all([]) == []


async def test_a_delivery_larger_than_a_transaction_is_stored_whole_in_order(tmp_path):
    engine = open_engine(f"sqlite+aiosqlite:///{tmp_path / 'batches.sqlite3'}")
    await create_tables(engine)
    log = SqlEventLog(engine, max_batch=2)
    delivery = [make_event(f"evt-{uuid.uuid4().hex}", n) for n in range(5)]
    results = await log.append_all(delivery)
    assert [r.position for r in results] == [1, 2, 3, 4, 5]
    assert [e.envelope for e in await log.read(after=0, limit=10)] == delivery
    await engine.dispose()


async def test_a_delivery_the_log_cannot_store_fails_as_a_whole(tmp_path):
    engine = open_engine(f"sqlite+aiosqlite:///{tmp_path / 'tableless.sqlite3'}")
    log = SqlEventLog(engine, max_batch=2)  # no tables: every transaction of it fails
    with pytest.raises(Exception, match="no such table"):
        await log.append_all([make_event(f"evt-{uuid.uuid4().hex}", n) for n in range(3)])
    await engine.dispose()


async def test_signalled_log_wakes_its_followers_once_a_delivery_adds_something(tmp_path):
    engine = open_engine(f"sqlite+aiosqlite:///{tmp_path / 'signalled.sqlite3'}")
    await create_tables(engine)
    signal = AppendSignal()
    log = SignallingEventLog(SqlEventLog(engine), signal)
    events = [make_event(f"evt-{uuid.uuid4().hex}", n) for n in range(3)]
    waiting = asyncio.create_task(signal.wait(5))
    await asyncio.sleep(0)
    await log.append_all(events)
    assert await waiting, "a delivery with new events wakes the followers"
    waiting = asyncio.create_task(signal.wait(0.2))
    await asyncio.sleep(0)
    await log.append_all(events)
    assert not await waiting, "a delivery of duplicates only is nothing new"
    await engine.dispose()


async def test_readers_behind_one_another_see_every_event_once_in_order(event_log):
    ids = [f"evt-{uuid.uuid4().hex}" for _ in range(6)]
    start = (await event_log.append(make_event(ids[0], 0))).position - 1
    for number, event_id in enumerate(ids[1:4], start=1):
        await event_log.append(make_event(event_id, number))
    ahead = await event_log.read(after=start, limit=3)  # the first three, now known
    for number, event_id in enumerate(ids[4:], start=4):
        await event_log.append(make_event(event_id, number))

    async def follow(after: int) -> list[str]:
        seen: list[str] = []
        while batch := await event_log.read(after=after, limit=4):
            seen += [e.envelope.event_id for e in batch if e.envelope.event_id in ids]
            after = batch[-1].position
        return seen

    assert [e.envelope.event_id for e in ahead] == ids[:3]
    assert await follow(start) == ids
    assert await follow(ahead[0].position) == ids[1:], "a reader in the middle of a run"


WRITERS = 4


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
async def test_a_follower_never_skips_an_event_appended_by_another_process(
    database, request, tmp_path
):
    """Two engines stand for two gateway processes appending at once; a follower reading past
    its last position must still see every event exactly once (positions commit in order)."""
    if database == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'events.sqlite3'}"
    engines = [open_engine(url) for _ in range(WRITERS + 1)]
    await create_tables(engines[0])
    logs = [SqlEventLog(engine) for engine in engines]
    reader = logs[-1]
    start = (await logs[0].append(make_event(f"evt-{uuid.uuid4().hex}"))).position
    ids = [f"evt-{uuid.uuid4().hex}" for _ in range(400)]
    seen: list[str] = []
    writing = True

    async def follow() -> None:
        after = start
        while writing or after < start + len(ids):
            events = await reader.read(after=after, limit=50)
            seen.extend(event.envelope.event_id for event in events)
            after = events[-1].position if events else after
            await asyncio.sleep(0)

    async def write(log: SqlEventLog, mine: list[str]) -> None:
        for event_id in mine:
            await log.append(make_event(event_id))

    try:
        follower = asyncio.create_task(follow())
        await asyncio.gather(*(write(logs[n], ids[n::WRITERS]) for n in range(WRITERS)))
        writing = False
        await asyncio.wait_for(follower, timeout=20)
        assert len(seen) == len(set(seen))
        assert sorted(seen) == sorted(ids), f"{len(set(ids) - set(seen))} events skipped"
    finally:
        for engine in engines:
            await engine.dispose()


async def test_readers_of_one_log_share_each_event_decoded_once_and_a_bounded_number_of_them():
    decoded = DecodedEvents(capacity=2)
    encoded = orjson.dumps(envelope_to_dict(make_event("evt-shared"))).decode()
    first = decoded.event(7, encoded)
    assert decoded.event(7, encoded) is first, "a second reader gets the same decoded event"
    assert first.position == 7 and first.envelope == make_event("evt-shared")
    decoded.event(8, encoded)
    decoded.event(9, encoded)
    assert decoded.event(7, encoded) is not first, "the oldest is forgotten past the capacity"


async def test_sql_log_readers_see_equal_events_whoever_read_them_first(tmp_path):
    engine = open_engine(f"sqlite+aiosqlite:///{tmp_path / 'shared.sqlite3'}")
    await create_tables(engine)
    log = SqlEventLog(engine)
    for number in range(3):
        await log.append(make_event(f"evt-{number}", number))
    projection_view = await log.read(after=0, limit=10)
    hub_view = await log.read(after=1, limit=10)
    assert [e.envelope.event_id for e in hub_view] == ["evt-1", "evt-2"]
    assert hub_view == projection_view[1:]
    assert all(a is b for a, b in zip(hub_view, projection_view[1:], strict=True))
    await engine.dispose()


async def test_a_reader_behind_another_is_answered_from_memory(tmp_path):
    engine = open_engine(f"sqlite+aiosqlite:///{tmp_path / 'shared.sqlite3'}")
    await create_tables(engine)
    log = SqlEventLog(engine)
    for number in range(5):
        await log.append(make_event(f"evt-{number}", number))
    queries: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: queries.append(a[2]))
    first = await log.read(after=0, limit=10)
    second = await log.read(after=0, limit=5)
    third = await log.read(after=2, limit=2)
    assert len(queries) == 1, f"expected the first read only to query, got {queries}"
    assert second == first and third == first[2:4]
    await log.append(make_event("evt-5", 5))
    queries.clear()
    fourth = await log.read(after=0, limit=10)
    assert [e.envelope.event_id for e in fourth] == [f"evt-{number}" for number in range(6)]
    assert len(queries) == 1, "past what is known, the database is asked, once"
    assert "event_log.position >" in queries[0]
    await engine.dispose()


async def test_readers_reaching_the_end_together_share_one_query(tmp_path):
    engine = open_engine(f"sqlite+aiosqlite:///{tmp_path / 'shared.sqlite3'}")
    await create_tables(engine)
    log = SqlEventLog(engine)
    for number in range(3):
        await log.append(make_event(f"evt-{number}", number))
    queries: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: queries.append(a[2]))
    reads = await asyncio.gather(*(log.read(after=0, limit=10) for _ in range(4)))
    assert len(queries) == 1, f"four readers woken together asked {len(queries)} times"
    assert all(read == reads[0] for read in reads) and len(reads[0]) == 3
    await engine.dispose()


async def test_a_reader_joins_an_engine_read_only_until_the_engine_is_asked():
    decoded = DecodedEvents()
    encoded = orjson.dumps(envelope_to_dict(make_event("evt-shared"))).decode()
    asked: list[int] = []
    connected, sent, answer = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def fetch(after: int, limit: int, sending) -> list:
        await connected.wait()  # waiting for a connection: nothing asked yet
        sending()
        asked.append(after)
        sent.set()
        await answer.wait()
        return [decoded.event(after + 1, encoded)]

    early = [asyncio.create_task(decoded.read(0, 10, fetch)) for _ in range(2)]
    await asyncio.sleep(0)
    connected.set()
    await sent.wait()
    late = asyncio.create_task(decoded.read(0, 10, fetch))  # may come after a commit: asks anew
    await asyncio.sleep(0)
    answer.set()
    results = await asyncio.gather(*early, late)
    assert asked == [0, 0], "the two early readers shared a read, the late one made its own"
    assert results[0] == results[1] == results[2]
