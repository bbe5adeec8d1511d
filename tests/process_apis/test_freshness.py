"""Freshness: when each backend was last heard from (SQLite and the real PostgreSQL, shared by
processes), how stale an answer made from some of them is, and who counts as heard: a poll
round that completed (even an empty one) or an accepted webhook, never a failed or skipped one.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from process_apis.freshness import (
    DEFAULT_WINDOWS_S,
    SOURCES,
    Freshness,
    FreshnessSnapshot,
    SourceFreshness,
)
from process_apis.inventory import InventoryQueries
from process_apis.polling import FeedLease, build_pollers
from process_apis.polling_positions import build_position_poller
from process_apis.tracking import MilestoneRecorder
from stores import Stores, create_tables, open_engine
from stores.freshness import SOURCES_HEARD, SqlHeardStore
from system_apis import BackendUnavailable, SystemClients

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request, tmp_path) -> AsyncIterator[AsyncEngine]:
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'state.sqlite3'}"
    engine = open_engine(url)
    await create_tables(engine)
    async with engine.begin() as connection:  # one shared table per database
        await connection.execute(delete(SOURCES_HEARD))
    yield engine
    await engine.dispose()


async def test_the_heard_time_only_moves_forward_and_every_process_sees_it(engine) -> None:
    first, second = SqlHeardStore(engine), SqlHeardStore(engine)
    await first.heard("erp", NOW)
    await second.heard("erp", NOW - timedelta(seconds=30))  # a process whose word is older
    await second.heard("tms", NOW + timedelta(hours=2, minutes=1))
    assert await first.last_heard() == {"erp": NOW, "tms": NOW + timedelta(hours=2, minutes=1)}
    await first.heard("erp", NOW + timedelta(seconds=1))
    assert (await second.last_heard())["erp"] == NOW + timedelta(seconds=1)
    with pytest.raises(ValueError, match="timezone-aware"):
        await first.heard("erp", datetime(2026, 1, 1))


def snapshot(heard: dict[str, datetime], **windows: float) -> FreshnessSnapshot:
    return FreshnessSnapshot(heard, {**DEFAULT_WINDOWS_S, **windows}, NOW)


def test_an_answer_is_as_old_as_its_oldest_source_and_stale_past_any_window() -> None:
    heard = {"tms": NOW - timedelta(seconds=10), "roadline": NOW - timedelta(seconds=50)}
    assert snapshot(heard, tms=30, roadline=60).of("tms", "roadline") == Freshness(
        NOW - timedelta(seconds=50), stale=False
    )
    assert snapshot(heard, tms=30, roadline=40).of("tms", "roadline").stale
    assert snapshot(heard, tms=5).of("tms") == Freshness(NOW - timedelta(seconds=10), True)
    never = snapshot(heard).of("erp")
    assert never == Freshness(as_of=None, stale=True), "never heard: no time, and stale"
    assert snapshot(heard).of("tms", "erp") == Freshness(None, True)
    with pytest.raises(ValueError):
        snapshot(heard).of()


@given(
    ages=st.dictionaries(st.sampled_from(SOURCES), st.integers(0, 10_000), min_size=1),
    windows=st.fixed_dictionaries({s: st.integers(1, 10_000) for s in SOURCES}),
)
def test_stale_exactly_when_some_source_is_older_than_its_window(ages, windows) -> None:
    heard = {source: NOW - timedelta(seconds=age) for source, age in ages.items()}
    answer = FreshnessSnapshot(heard, windows, NOW).of(*ages)
    assert answer.as_of == NOW - timedelta(seconds=max(ages.values()))
    assert answer.stale == any(age > windows[source] for source, age in ages.items())


async def test_a_burst_of_hearing_costs_one_write_and_unknown_sources_are_refused(
    engine,
) -> None:
    writes: list[str] = []
    store = SqlHeardStore(engine)

    class Counting:
        async def heard(self, source: str, at: datetime) -> None:
            writes.append(source)
            await store.heard(source, at)

        async def last_heard(self):  # type: ignore[no-untyped-def]
            return await store.last_heard()

    freshness = SourceFreshness(Counting(), clock=lambda: NOW)
    for _ in range(50):
        await freshness.heard_from("wms")
    await asyncio.gather(*(freshness.heard_from("tms") for _ in range(50)))  # concurrent ones
    assert writes == ["wms", "tms"]
    assert await freshness.of("wms") == Freshness(NOW, stale=False)
    with pytest.raises(ValueError, match="unknown source"):
        await freshness.heard_from("mainframe")
    with pytest.raises(ValueError, match="no freshness window"):
        SourceFreshness(store, {"erp": 1.0})


def feed_pollers(
    clients: SystemClients, stores: Stores, recorder: MilestoneRecorder, freshness, **options
) -> dict[str, object]:
    pollers = build_pollers(clients, stores, recorder, freshness=freshness, **options)
    return {poller.source: poller for poller in pollers}


async def run_one_round(poller) -> None:  # type: ignore[no-untyped-def]
    """`run`, stopped right after its first round ended (it tells `heard` on the way)."""
    stop = asyncio.Event()
    original = poller.poll_once

    async def once():  # type: ignore[no-untyped-def]
        try:
            return await original()
        finally:
            stop.set()

    poller.poll_once = once
    await asyncio.wait_for(poller.run(60.0, stop), timeout=30)


async def test_a_completed_poll_round_is_hearing_from_its_backend_a_failed_one_is_not(
    clean_faults, clients: SystemClients, stores: Stores, recorder: MilestoneRecorder
) -> None:
    freshness = SourceFreshness(stores.heard)
    pollers = feed_pollers(clients, stores, recorder, freshness)
    await clean_faults.aset_faults("erp", maintenance=True)
    await run_one_round(pollers["erp-orders"])
    assert await stores.heard.last_heard() == {}, "the ERP did not answer"
    await clean_faults.areset_faults("erp")
    for source in ("erp-orders", "roadline", "heritage-outbox"):
        await run_one_round(pollers[source])
    await run_one_round(build_position_poller(clients, stores, freshness=freshness))
    assert set(await stores.heard.last_heard()) == {"erp", "roadline", "heritage", "wms"}
    assert not (await freshness.of("erp", "roadline", "heritage", "wms")).stale
    assert (await InventoryQueries(stores.inventory, freshness).stock_freshness()).as_of
    assert (await InventoryQueries(stores.inventory).stock_freshness()).stale, "no clock"
    with pytest.raises(BackendUnavailable):  # poll_once alone never notes anything
        await clean_faults.aset_faults("erp", outage=True)
        await pollers["erp-orders"].poll_once()


async def test_a_round_another_process_holds_the_feed_of_is_not_hearing(
    clients: SystemClients, stores: Stores, recorder: MilestoneRecorder
) -> None:
    await stores.leases.acquire("poll:erp-orders", "another-process", 30)
    freshness = SourceFreshness(stores.heard)
    lease = FeedLease(stores.leases, f"this-{uuid.uuid4().hex[:6]}", 30)
    pollers = feed_pollers(clients, stores, recorder, freshness, lease=lease)
    await run_one_round(pollers["erp-orders"])
    assert "erp" not in await stores.heard.last_heard()
