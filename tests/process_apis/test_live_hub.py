"""The subscription hub over a real event log (SQLite and JetStream): one tail, fan-out by
aggregate, resume without gap or duplicate, bounded listeners."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain import EventEnvelope, SourceSystem
from process_apis.live import (
    HubClosed,
    Interest,
    ListenerFellBehind,
    SubscriptionHub,
    log_end,
)
from stores import EventLog, SqlEventLog, StoredEvent, create_tables, open_engine
from stores.event_log import AppendSignal, SignallingEventLog
from stores.jetstream import JetStreamEventLog

WAIT_S = 10.0
"""Bound on every wait for a delivery: a hub that loses an event fails, never hangs."""


def envelope(aggregate_id: str, aggregate_type: str = "Shipment") -> EventEnvelope:
    occurred = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    return EventEnvelope(
        event_id=f"evt-{uuid.uuid4().hex}",
        event_type="shipment.milestone",
        source=SourceSystem.CARRIER,
        source_name="SWFT",
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        occurred_at=occurred,
        received_at=occurred + timedelta(seconds=1),
        correlation_id="corr-live",
        tenant_id="C-1001",
        payload={"note": aggregate_id},
    )


@contextlib.asynccontextmanager
async def opened_log(engine_name: str, nats_url: str | None, folder) -> AsyncIterator[EventLog]:
    if engine_name == "jetstream":
        assert nats_url is not None
        log = await JetStreamEventLog.connect(
            nats_url,
            stream=f"HUB_{uuid.uuid4().hex[:10].upper()}",
            subject_prefix=f"hub.{uuid.uuid4().hex[:10]}",
        )
        try:
            yield log
        finally:
            await log._js.delete_stream(log._stream)
            await log.close()
        return
    engine = open_engine(f"sqlite+aiosqlite:///{folder / f'events-{uuid.uuid4().hex}.sqlite3'}")
    await create_tables(engine)
    try:
        yield SqlEventLog(engine)
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "jetstream"])
def engine_name(request) -> str:
    return request.param


@pytest.fixture
def nats(request, engine_name) -> str | None:
    return request.getfixturevalue("nats_url") if engine_name == "jetstream" else None


@pytest.fixture
async def event_log(engine_name, nats, tmp_path) -> AsyncIterator[EventLog]:
    async with opened_log(engine_name, nats, tmp_path) as log:
        yield log


@pytest.fixture
async def hub(event_log) -> AsyncIterator[SubscriptionHub]:
    built = SubscriptionHub(event_log, poll_interval_s=0.02)
    yield built
    await built.close()


async def take(events: AsyncIterator[StoredEvent], count: int) -> list[StoredEvent]:
    taken: list[StoredEvent] = []

    async def collect() -> None:
        async for event in events:
            taken.append(event)
            if len(taken) == count:
                return

    await asyncio.wait_for(collect(), WAIT_S)
    return taken


async def append_all(log: EventLog, ids: Sequence[str]) -> list[int]:
    return [(await log.append(envelope(aggregate_id))).position for aggregate_id in ids]


async def test_log_end_is_the_last_position_of_any_log(event_log):
    assert await log_end(event_log) == 0
    for count in (1, 2, 5):
        positions = await append_all(event_log, ["A"] * count)
        assert await log_end(event_log) == positions[-1]


async def test_a_listener_receives_only_its_aggregates_events_appended_after_it_opened(
    hub, event_log
):
    await append_all(event_log, ["SP-1"])  # before: not for a listener opened without `after`
    async with hub.listen(Interest("Shipment", "SP-1")) as listener:
        positions = await append_all(event_log, ["SP-2", "SP-1", "SP-2", "SP-1"])
        received = await take(aiter(listener), 2)
    assert [event.position for event in received] == [positions[1], positions[3]]
    assert {event.envelope.aggregate_id for event in received} == {"SP-1"}


async def test_a_listener_of_every_aggregate_of_a_type_with_a_predicate(hub, event_log):
    only_odd = Interest("Shipment", accepts=lambda event: event.envelope.aggregate_id[-1] in "13")
    async with hub.listen(only_odd) as listener:
        await event_log.append(envelope("SP-9", aggregate_type="Order"))
        positions = await append_all(event_log, ["SP-1", "SP-2", "SP-3"])
        received = await take(aiter(listener), 2)
    assert [event.position for event in received] == [positions[0], positions[2]]


async def test_resume_after_a_position_gets_the_missed_events_then_live_ones(hub, event_log):
    async with hub.listen(Interest("Shipment", "SP-1")) as first:
        before = await append_all(event_log, ["SP-1", "SP-1", "SP-1"])
        seen = await take(aiter(first), 1)
    assert seen[0].position == before[0]
    async with hub.listen(Interest("Shipment", "SP-1"), after=seen[0].position) as resumed:
        after = await append_all(event_log, ["SP-1"])
        received = await take(aiter(resumed), 3)
    assert [event.position for event in received] == [*before[1:], *after]


async def test_resume_from_a_position_the_hub_has_not_reached_skips_up_to_it(hub, event_log):
    positions = await append_all(event_log, ["SP-1"] * 3)
    async with hub.listen(Interest("Shipment", "SP-1"), after=positions[1]) as listener:
        more = await append_all(event_log, ["SP-1"])
        received = await take(aiter(listener), 2)
    assert [event.position for event in received] == [positions[2], *more]


async def test_a_listener_that_falls_behind_is_dropped_with_its_last_position(event_log):
    hub = SubscriptionHub(event_log, poll_interval_s=0.02, listener_capacity=3)
    try:
        async with (
            hub.listen(Interest("Shipment", "SP-1")) as slow,
            hub.listen(Interest("Shipment", "SP-1")) as keeping_up,
        ):
            appended: list[int] = []
            received: list[StoredEvent] = []
            for _ in range(6):
                appended += await append_all(event_log, ["SP-1"])
                received += await take(aiter(keeping_up), 1)
            delivered: list[int] = []
            with pytest.raises(ListenerFellBehind) as fell:
                async with asyncio.timeout(WAIT_S):
                    async for event in slow:
                        delivered.append(event.position)
            assert delivered == appended[:3], "a dropped listener first gets what it buffered"
            assert fell.value.last_position == appended[2]
            assert [event.position for event in received] == appended
            assert hub.listener_count == 1, "the slow listener no longer costs the tail"
    finally:
        await hub.close()


async def test_closing_the_hub_ends_every_listener(event_log):
    hub = SubscriptionHub(event_log, poll_interval_s=0.02)
    async with hub.listen(Interest("Shipment", "SP-1")) as listener:
        await hub.close()
        with pytest.raises(HubClosed):
            await take(aiter(listener), 1)
    with pytest.raises(HubClosed):
        async with hub.listen(Interest("Shipment", "SP-1")):
            pass


async def test_an_observer_is_told_every_event_in_log_order_whoever_listens(hub, event_log):
    observed: list[int] = []

    def failing(event: StoredEvent) -> None:
        raise RuntimeError("an observer's own bug")

    hub.observe(failing)
    hub.observe(lambda event: observed.append(event.position))
    async with hub.listen(Interest("Shipment", "SP-1")) as listener:
        positions = await append_all(event_log, ["SP-2", "SP-1", "SP-3"])
        other = (await event_log.append(envelope("SP-9", aggregate_type="Order"))).position
        received = await take(aiter(listener), 1)
    async with asyncio.timeout(WAIT_S):
        while len(observed) < 4:
            await asyncio.sleep(0.01)
    assert observed == [*positions, other], "every event, not only those a listener wants"
    assert [event.position for event in received] == [positions[1]], "a failing one stops nothing"


class CountingLog:
    """The real log, counting reads: how many times the process reads it, whoever listens."""

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self.reads = 0

    async def append(self, event: EventEnvelope):
        return await self.log.append(event)

    async def read(self, *, after: int = 0, limit: int = 100) -> Sequence[StoredEvent]:
        self.reads += 1
        return await self.log.read(after=after, limit=limit)

    async def ping(self) -> None:
        await self.log.ping()

    async def close(self) -> None:
        await self.log.close()


async def test_a_thousand_listeners_share_one_tail(event_log):
    counting = CountingLog(event_log)
    hub = SubscriptionHub(counting, poll_interval_s=0.05)
    try:
        async with contextlib.AsyncExitStack() as stack:
            listeners = [
                await stack.enter_async_context(hub.listen(Interest("Shipment", "SP-1")))
                for _ in range(1000)
            ]
            reads_before = counting.reads
            positions = await append_all(event_log, ["SP-1", "SP-1"])
            received = await asyncio.gather(*(take(aiter(item), 2) for item in listeners))
            tail_reads = counting.reads - reads_before
        assert all([e.position for e in got] == positions for got in received)
        # the tail's own polls only: bounded by time, not by the number of listeners
        assert tail_reads < 1000 / 4, f"{tail_reads} reads for 1,000 listeners"
        assert len([t for t in asyncio.all_tasks() if t.get_name() == "subscription-hub-tail"]) == 1
    finally:
        await hub.close()


OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.sampled_from(["SP-1", "SP-2"])),
        st.tuples(
            st.just("listen"),
            st.sampled_from(["SP-1", "SP-2"]),
            st.one_of(st.none(), st.integers(min_value=0, max_value=4)),
        ),
        st.tuples(st.just("pause"), st.sampled_from([0.0, 0.002, 0.02])),
    ),
    min_size=1,
    max_size=25,
)


async def interleaving_delivers_each_event_once(log: EventLog, operations) -> None:
    """Appends, subscriptions (live or resuming from a recent position) and pauses
    in any order: every listener gets exactly the log's events of its aggregate after its start,
    in log order. A fence event per aggregate at the end proves nothing more is on its way."""
    hub = SubscriptionHub(log, poll_interval_s=0.01)
    appended: list[int] = []
    listeners: list[tuple[str, int, asyncio.Task[list[StoredEvent]]]] = []
    fence = {"SP-1": "", "SP-2": ""}

    async def until_fence(listener, aggregate_id: str) -> list[StoredEvent]:
        received = []
        async for event in listener:
            if event.envelope.event_id == fence[aggregate_id]:
                return received
            received.append(event)
        return received

    try:
        async with contextlib.AsyncExitStack() as stack:
            for operation in operations:
                if operation[0] == "append":
                    appended.append((await log.append(envelope(operation[1]))).position)
                elif operation[0] == "listen":
                    _, aggregate_id, pick = operation
                    # resume from one of the last few positions (or the very start)
                    back = None if pick is None else len(appended) - 1 - pick
                    after = None if back is None else appended[back] if back >= 0 else 0
                    listener = await stack.enter_async_context(
                        hub.listen(Interest("Shipment", aggregate_id), after=after)
                    )
                    task = asyncio.create_task(until_fence(listener, aggregate_id))
                    listeners.append((aggregate_id, listener.started_after, task))
                else:
                    await asyncio.sleep(operation[1])  # lets the tail move on, or not
            for aggregate_id in fence:
                last = envelope(aggregate_id)
                fence[aggregate_id] = last.event_id
                await log.append(last)
            async with asyncio.timeout(WAIT_S):
                results = await asyncio.gather(*(task for _, _, task in listeners))
        everything = await log.read(after=0, limit=1000)
        for (aggregate_id, after, _), received in zip(listeners, results, strict=True):
            expected = [
                event.position
                for event in everything
                if event.envelope.aggregate_id == aggregate_id
                and event.position > after
                and event.envelope.event_id != fence[aggregate_id]
            ]
            assert [event.position for event in received] == expected
    finally:
        await hub.close()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=OPERATIONS)
async def test_interleaved_appends_and_subscriptions_deliver_without_gap_or_duplicate_sqlite(
    tmp_path, operations
):
    async with opened_log("sqlite", None, tmp_path) as log:
        await interleaving_delivers_each_event_once(log, operations)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=OPERATIONS)
async def test_interleaved_appends_and_subscriptions_deliver_without_gap_or_duplicate_jetstream(
    nats_url, tmp_path, operations
):
    async with opened_log("jetstream", nats_url, tmp_path) as log:
        await interleaving_delivers_each_event_once(log, operations)


async def test_an_append_in_this_process_wakes_the_tail_at_once(event_log):
    signal = AppendSignal()
    signalling = SignallingEventLog(event_log, signal)
    hub = SubscriptionHub(signalling, appended=signal, poll_interval_s=3600)
    try:
        async with hub.listen(Interest("Shipment", "SP-1")) as listener:
            await asyncio.sleep(0.5)  # the tail has read the empty log and waits, an hour at most
            (position,) = await append_all(signalling, ["SP-1"])
            received = await take(aiter(listener), 1)  # within WAIT_S, not an hour
        assert [event.position for event in received] == [position]
    finally:
        await hub.close()
