"""Live updates wait for the read models: an event reaches subscribers only once every
projection that reads it has applied it (its position in the shared position store)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from process_apis.live import Interest, ReadModelGate, SubscriptionHub
from stores import AppendSignal, SqlEventLog, SqlPositionStore, create_tables, open_engine
from tests.process_apis.test_live_hub import envelope, take


@pytest.fixture
async def engine(tmp_path) -> AsyncIterator:
    built = open_engine(f"sqlite+aiosqlite:///{tmp_path / 'gate.sqlite3'}")
    await create_tables(built)
    yield built
    await built.dispose()


async def test_an_event_is_delivered_once_its_projections_applied_it(engine):
    log, positions, progressed = SqlEventLog(engine), SqlPositionStore(engine), AppendSignal()
    gate = ReadModelGate(
        positions, {"Shipment": ["shipments", "milestones"]}, progressed, poll_interval_s=0.02
    )
    hub = SubscriptionHub(log, read_models=gate, poll_interval_s=0.02)
    try:
        async with hub.listen(Interest("Shipment", "SP-1")) as listener:
            events = aiter(listener)
            first = asyncio.ensure_future(anext(events))
            position = (await log.append(envelope("SP-1"))).position
            await positions.advance("shipments", position)
            progressed.notify()
            await asyncio.sleep(0.2)  # the tail has had many chances to hand it out
            assert not first.done(), "delivered before the milestone history showed it"
            assert (hub.head or 0) < position
            await positions.advance("milestones", position)
            progressed.notify()
            delivered = await asyncio.wait_for(first, 10)
            assert delivered.position == position
            # events no projection reads are not held back
            other = (await log.append(envelope("SP-1", aggregate_type="PickTask"))).position
            async with hub.listen(Interest("PickTask", "SP-1"), after=position) as tasks:
                assert [e.position for e in await take(aiter(tasks), 1)] == [other]
    finally:
        await hub.close()


async def test_events_the_read_models_have_yet_to_show_at_start_are_handed_out_as_they_do(engine):
    """Appended before the process's hub started, applied after: still announced (a cache
    purged by the hub must hear of them, or an answer read before them stays cached)."""
    log, positions, progressed = SqlEventLog(engine), SqlPositionStore(engine), AppendSignal()
    shown = (await log.append(envelope("SP-1"))).position
    pending = (await log.append(envelope("SP-1"))).position
    await positions.advance("shipments", shown)
    gate = ReadModelGate(positions, {"Shipment": ["shipments"]}, progressed, poll_interval_s=0.02)
    hub = SubscriptionHub(log, read_models=gate, poll_interval_s=0.02)
    try:
        async with hub.listen(Interest("Shipment", "SP-1")) as listener:
            assert await hub.current_position() == shown, "now is what the read models show"
            events = aiter(listener)
            first = asyncio.ensure_future(anext(events))
            await asyncio.sleep(0.2)
            assert not first.done(), "handed out before the read models showed it"
            await positions.advance("shipments", pending)
            progressed.notify()
            assert (await asyncio.wait_for(first, 10)).position == pending
    finally:
        await hub.close()


async def test_a_hub_over_caught_up_read_models_starts_at_the_logs_end(engine):
    log, positions, progressed = SqlEventLog(engine), SqlPositionStore(engine), AppendSignal()
    end = (await log.append(envelope("SP-1"))).position
    await positions.advance("shipments", end)
    gate = ReadModelGate(positions, {"Shipment": ["shipments"]}, progressed)
    hub = SubscriptionHub(log, read_models=gate)
    try:
        assert await hub.current_position() == end
    finally:
        await hub.close()
