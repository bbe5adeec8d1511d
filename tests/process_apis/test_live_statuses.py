"""Shipment statuses kept in memory from the hub's events: always the status the whole milestone
history gives, with the history asked once per tracking number, not once per event."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone, tzinfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from domain import Milestone, MilestoneStatus, current_milestone
from process_apis.consumers import runner_for
from process_apis.live import ReportedMilestones, ShipmentStatuses
from process_apis.projections import build_projections, run_projections
from process_apis.services import LogisticsServices, build_services
from stores import SqlMilestoneStore, StoredEvent, Stores, create_tables, open_engine
from stores.cache import open_cache
from system_apis.milestones import milestone_envelope
from tests.process_apis.test_live_subscriptions import (
    SHIPMENT,
    a_shipment_of,
    event,
    milestone,
    subscribe,
)

TRACKING_NUMBERS = ("SP0000000001", "SP0000000002")
START = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
ZONES = (UTC, timezone(timedelta(hours=-6)), timezone(timedelta(hours=5, minutes=30)))


class HeldHistory:
    """The real SQLite milestone history, whose `deciding` answers are held back until released:
    a load still in flight while more milestones are handed out."""

    def __init__(self, store: SqlMilestoneStore) -> None:
        self.store = store
        self.released = asyncio.Event()
        self.released.set()
        self.asked: list[str] = []
        self.querying = 0

    async def deciding(self, tracking_number: str) -> tuple[Milestone, ...]:
        self.asked.append(tracking_number)
        self.querying += 1
        try:
            answer = await self.store.deciding(tracking_number)
        finally:
            self.querying -= 1
        await self.released.wait()
        return answer

    async def queried(self) -> None:
        """Once an ask just made has its query answered (or needed none): what is handed out
        from now on can reach its load only by being folded in."""
        for _ in range(2):  # the ask starts its load, the load starts its query
            await asyncio.sleep(0)
        async with asyncio.timeout(10):
            while self.querying:
                await asyncio.sleep(0.001)


def dispatched(tracking_number: str, position: int) -> StoredEvent:
    """A shipment event that is not a milestone: its status is the history's alone."""
    envelope = event("Shipment", tracking_number, None, event_type="shipment.dispatched")
    return StoredEvent(position, envelope)


MILESTONE = st.tuples(
    st.integers(0, len(TRACKING_NUMBERS) - 1),
    st.sampled_from(list(MilestoneStatus)),
    st.integers(0, 4),  # few instants: many ties on occurred_at
    st.sampled_from(ZONES),  # one instant written in several zones still ties
    st.sampled_from(["a", "b", "B", "é", "z"]),  # ties broken by event id, by code point
)
EARLIER = st.lists(MILESTONE, max_size=8)
"""What the history holds before the hub hands anything out."""


def logged(milestone: Milestone, position: int) -> StoredEvent:
    envelope = milestone_envelope(milestone, received_at=START, correlation_id="corr-statuses")
    return StoredEvent(position, envelope)


ARRIVE = st.tuples(st.just("arrive"), MILESTONE, st.booleans())  # asked at this very milestone
AGAIN = st.tuples(st.just("again"), st.integers(0, 1000))  # a milestone delivered again
ASK = st.tuples(st.just("ask"), st.integers(0, len(TRACKING_NUMBERS) - 1))
"""A subscriber asks; the history's answers are held back from then until the next release."""
RELEASE = st.tuples(st.just("release"))
STEPS = st.lists(st.one_of(ARRIVE, AGAIN, ASK, RELEASE), min_size=4, max_size=40)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(earlier=EARLIER, steps=STEPS)
@example(  # a milestone handed out while the load is in flight
    earlier=[(0, MilestoneStatus.IN_TRANSIT, 0, UTC, "a")],
    steps=[
        ("ask", 0),
        ("arrive", (0, MilestoneStatus.EXCEPTION, 1, UTC, "b"), False),
        ("release",),
    ],
)
@example(  # a kept status, then a milestone handed out
    earlier=[],
    steps=[
        ("arrive", (0, MilestoneStatus.INFO_RECEIVED, 0, UTC, "a"), False),
        ("ask", 0),
        ("release",),
        ("arrive", (0, MilestoneStatus.IN_TRANSIT, 1, UTC, "b"), False),
        ("ask", 0),
    ],
)
def test_the_kept_status_is_the_one_the_whole_history_gives(tmp_path, earlier, steps):
    """Milestones handed out one by one (duplicates, late lower-ranked ones, exceptions, ties),
    some while a load is in flight, with fewer entries kept than shipments asked about: every
    answer is `current_milestone` of everything the history holds when it is given."""

    async def scenario() -> None:
        engine = open_engine(f"sqlite+aiosqlite:///{tmp_path / f'{uuid.uuid4().hex}.sqlite3'}")
        try:
            await create_tables(engine)
            await run(HeldHistory(SqlMilestoneStore(engine)))
        finally:
            await engine.dispose()

    async def run(history: HeldHistory) -> None:
        # asking another evicts
        statuses = ShipmentStatuses(history, ReportedMilestones(), capacity=1)
        arrived: list[Milestone] = []
        pending: list[tuple[str, asyncio.Task[MilestoneStatus | None]]] = []
        position = 0
        handed_out = False

        def expected(tracking_number: str) -> MilestoneStatus | None:
            current = current_milestone(m for m in arrived if m.tracking_number == tracking_number)
            return current.status if current else None

        async def answered() -> None:
            """Check every answer given by now (all of them once loads are released) against
            the history as it is: nothing has arrived since they were given."""
            if history.released.is_set():
                await asyncio.gather(*(task for _, task in pending))
            for tracking_number, task in [(t, task) for t, task in pending if task.done()]:
                assert task.result() == expected(tracking_number), (
                    f"{tracking_number}: the history gives {expected(tracking_number)}"
                )
                pending.remove((tracking_number, task))

        async def hand_out(milestone: Milestone, ask: bool) -> None:
            nonlocal position, handed_out
            position += 1
            handed = logged(milestone, position)
            # the gate: the history shows an event before the hub hands it out
            await history.store.add([milestone], positions={milestone.event_id: position})
            arrived.append(milestone)
            handed_out = True
            statuses.observe(handed)
            if ask:
                asked = asyncio.create_task(statuses.at(handed))
                pending.append((milestone.tracking_number, asked))
                await history.queried()

        def built(drawn: tuple[int, MilestoneStatus, int, tzinfo, str]) -> Milestone:
            which, status, hour, zone, suffix = drawn
            return Milestone(
                event_id=f"{suffix}{len(arrived)}",
                tracking_number=TRACKING_NUMBERS[which],
                status=status,
                occurred_at=(START + timedelta(hours=hour)).astimezone(zone),
                carrier="SWFT",
                carrier_code=status.value[:2],
            )

        for drawn in earlier:
            position += 1
            milestone = built(drawn)
            await history.store.add([milestone], positions={milestone.event_id: position})
            arrived.append(milestone)
        for step in steps:
            if step[0] == "arrive":
                await hand_out(built(step[1]), ask=step[2])
            elif step[0] == "again" and arrived:
                await hand_out(arrived[step[1] % len(arrived)], ask=True)
            elif step[0] == "ask":
                history.released.clear()
                position += 1
                asked = statuses.at(dispatched(TRACKING_NUMBERS[step[1]], position))
                pending.append((TRACKING_NUMBERS[step[1]], asyncio.create_task(asked)))
                await history.queried()
            elif step[0] == "release":
                history.released.set()
            await answered()
        history.released.set()
        await answered()
        for tracking_number in TRACKING_NUMBERS:
            position += 1
            first = await statuses.at(dispatched(tracking_number, position))
            asked = len(history.asked)
            position += 1
            again = await statuses.at(dispatched(tracking_number, position))
            assert first == again == expected(tracking_number)
            if handed_out:  # before the first milestone is handed out, nothing is kept
                assert len(history.asked) == asked, "a kept status was asked of the history again"

    asyncio.run(scenario())


async def test_a_status_loaded_before_the_first_milestone_handed_out_is_asked_again(tmp_path):
    """When the hub starts, the history may lag behind the log's head (a resuming subscriber
    asks about events from before it); what a load saw then is not kept."""
    engine = open_engine(f"sqlite+aiosqlite:///{tmp_path / 'lagging.sqlite3'}")
    try:
        await create_tables(engine)
        history = HeldHistory(SqlMilestoneStore(engine))
        statuses = ShipmentStatuses(history, ReportedMilestones())
        tracking_number, other = TRACKING_NUMBERS[:2]
        in_transit = Milestone("it", tracking_number, MilestoneStatus.IN_TRANSIT, START, "S", "IT")
        replayed = logged(in_transit, 1)  # from before the hub's head, not in the history yet
        assert await statuses.at(replayed) is MilestoneStatus.IN_TRANSIT
        await history.store.add([in_transit], positions={"it": 1})  # the projection catches up
        elsewhere = Milestone("x", other, MilestoneStatus.DELIVERED, START, "S", "DL")
        await history.store.add([elsewhere], positions={"x": 2})
        statuses.observe(logged(elsewhere, 2))  # the first handed out: the history caught up
        assert await statuses.at(dispatched(tracking_number, 3)) is MilestoneStatus.IN_TRANSIT
        assert history.asked == [tracking_number, tracking_number]
        assert await statuses.at(dispatched(tracking_number, 4)) is MilestoneStatus.IN_TRANSIT
        assert history.asked == [tracking_number, tracking_number], "kept once caught up"
    finally:
        await engine.dispose()


class CountingMilestones(SqlMilestoneStore):
    """The real SQLite milestone history, counting the `deciding` queries per tracking number."""

    def __init__(self, engine) -> None:  # type: ignore[no-untyped-def]
        super().__init__(engine)
        self.asked: list[str] = []

    async def deciding(self, tracking_number: str) -> tuple[Milestone, ...]:
        self.asked.append(tracking_number)
        return await super().deciding(tracking_number)


@pytest.fixture
async def deployed(clients, stores: Stores) -> AsyncIterator[tuple[LogisticsServices, Stores]]:
    """The services as a gateway builds them (the hub held back by the read-model gate), over a
    counted milestone history, with the projections following the log."""
    counted = dataclasses.replace(stores, milestones=CountingMilestones(stores.engine))
    cache = open_cache("memory", namespace=f"statuses-{uuid.uuid4().hex}")
    services = build_services(clients, counted, cache)
    stop = asyncio.Event()
    runner = runner_for(counted, idle_s=0.01)
    projecting = asyncio.create_task(run_projections(runner, build_projections(counted), stop))
    try:
        yield services, counted
    finally:
        stop.set()
        await asyncio.wait_for(projecting, 10)
        await services.live.close()
        await cache.close()


async def test_live_updates_carry_the_historys_status_asking_it_once_per_shipment(
    deployed, clients
):
    services, stores = deployed
    counting = stores.milestones
    assert isinstance(counting, CountingMilestones)
    _, tracking_number = await a_shipment_of(clients, "C-1001")
    earlier = [
        milestone(tracking_number, MilestoneStatus.INFO_RECEIVED, 7),
        milestone(tracking_number, MilestoneStatus.OUT_FOR_DELIVERY, 10),
    ]
    await services.recorder.record(earlier)
    async with asyncio.timeout(10):  # the history holds them before anyone subscribes
        while len(await counting.history(tracking_number)) < len(earlier):
            await asyncio.sleep(0.02)
    streams = [
        await subscribe(services, SHIPMENT, "C-1001", {"tn": tracking_number}) for _ in range(2)
    ]
    arriving = [
        milestone(tracking_number, MilestoneStatus.IN_TRANSIT, 8),  # late: OUT_FOR_DELIVERY stays
        milestone(tracking_number, MilestoneStatus.EXCEPTION, 11),  # newer than the progress
        milestone(tracking_number, MilestoneStatus.IN_TRANSIT, 9),  # late: the exception stays
        milestone(tracking_number, MilestoneStatus.DELIVERED, 12),
        milestone(tracking_number, MilestoneStatus.EXCEPTION, 13),  # after a terminal status
        *(milestone(tracking_number, MilestoneStatus.IN_TRANSIT, 8) for _ in range(20)),
    ]
    expected = [
        current_milestone([*earlier, *arriving[: count + 1]]).status.value  # type: ignore[union-attr]
        for count in range(len(arriving))
    ]
    assert expected[:5] == ["OUT_FOR_DELIVERY", "EXCEPTION", "EXCEPTION", "DELIVERED", "DELIVERED"]
    reported: list[list[tuple[str, str]]] = [[] for _ in streams]
    for arrival in arriving:  # one at a time: each update's status is the one as of its event
        await services.recorder.record([arrival])
        for stream, updates in zip(streams, reported, strict=True):
            (result,) = await stream.take(1)
            update = result.data["shipmentUpdated"]
            updates.append((update["milestone"]["status"], update["status"]))
    for stream in streams:
        await stream.close()
    for updates in reported:
        assert [kind for kind, _ in updates] == [m.status.value for m in arriving]
        assert [status for _, status in updates] == expected
    assert counting.asked.count(tracking_number) == 1, (
        f"the history was asked {counting.asked.count(tracking_number)} times for "
        f"{len(arriving)} events and two subscribers"
    )
