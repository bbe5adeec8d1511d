"""Polled carriers against the reference backends: backlogs, new statuses, outages, bad records.

Everything runs over loopback against the real RoadLine and Heritage processes and a real
SQLite store, except the unreadable Heritage interchange: the sandbox only writes valid X12, so
that case uses a stand-in outbox serving fixed interchanges through the real parser.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from process_apis.polling import CarrierPoller, build_pollers
from process_apis.tracking import MilestoneRecorder
from stores import DeadLetter, DeadLetterStore, Stores
from system_apis import (
    BackendUnavailable,
    MilestoneBatch,
    SystemClients,
    parse_heritage_outbox,
)
from tests.process_apis.conftest import project
from tests.system_apis.x12_samples import Shipment, interchange

if TYPE_CHECKING:
    from tests.sandbox_processes import Sandbox

SOURCES = ("roadline", "heritage-outbox")


def pollers_of(
    clients: SystemClients, stores: Stores, recorder: MilestoneRecorder
) -> dict[str, CarrierPoller]:
    return {poller.source: poller for poller in build_pollers(clients, stores, recorder)}


def new_reference(backend: str) -> str:
    """A tracking number the carrier has never seen; emitting a status for it creates it."""
    if backend == "roadline":
        return f"RL{uuid.uuid4().int % 10**9:09d}"
    return f"HF{uuid.uuid4().int % 10**8:08d}"


async def wait_until(condition, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await condition():
            return True
        await asyncio.sleep(0.05)
    return False


@pytest.mark.parametrize("source", SOURCES)
async def test_the_first_poll_records_the_backlog_and_stores_the_cursor(
    source: str, clients: SystemClients, stores: Stores, recorder: MilestoneRecorder
) -> None:
    outcome = await pollers_of(clients, stores, recorder)[source].poll_once()
    assert outcome.recorded > 0 and outcome.rejected == 0 and outcome.drained, outcome
    assert outcome.cursor is not None
    assert await stores.cursors.get(source) == outcome.cursor
    (first,) = await stores.event_log.read(limit=1)
    assert await stores.milestones.history(first.envelope.aggregate_id) == (), "the log only"
    await project(stores)
    history = await stores.milestones.history(first.envelope.aggregate_id)
    assert first.envelope.event_id in {m.event_id for m in history}, "logged, then projected"


@pytest.mark.parametrize("source", SOURCES)
async def test_a_second_poll_records_nothing_new(
    source: str, clients: SystemClients, stores: Stores, recorder: MilestoneRecorder
) -> None:
    poller = pollers_of(clients, stores, recorder)[source]
    first = await poller.poll_once()
    again = await poller.poll_once()
    assert (again.recorded, again.duplicates, again.rejected) == (0, 0, 0)
    assert again.cursor == first.cursor
    assert await stores.cursors.get(source) == first.cursor


@pytest.mark.parametrize(
    ("backend", "source", "first_status"),
    [("roadline", "roadline", "DISPATCHED"), ("heritage", "heritage-outbox", "X3")],
)
async def test_a_status_emitted_after_a_poll_is_picked_up_by_the_next_one(
    backend: str,
    source: str,
    first_status: str,
    sandbox: Sandbox,
    clients: SystemClients,
    stores: Stores,
    recorder: MilestoneRecorder,
) -> None:
    poller = pollers_of(clients, stores, recorder)[source]
    before = await poller.poll_once()
    reference = new_reference(backend)
    made = await sandbox.aemit(backend, reference, first_status)
    made += await sandbox.aadvance(backend, reference, steps=1)
    outcome = await poller.poll_once()
    assert outcome.recorded == len(made) == 2, outcome
    assert outcome.cursor != before.cursor
    await project(stores)
    history = await stores.milestones.history(reference)
    assert sorted(m.carrier_code for m in history) == sorted(event["status"] for event in made)


async def test_a_round_stops_at_its_batch_bound_and_the_next_round_goes_on_from_there(
    clients: SystemClients, stores: Stores, recorder: MilestoneRecorder
) -> None:
    async def three_rows(after: str | None) -> MilestoneBatch:
        return await clients.roadline.status_updates(after, limit=3)

    poller = CarrierPoller(
        source="roadline",
        fetch=three_rows,
        content_type="application/json",
        recorder=recorder,
        dead_letters=stores.dead_letters,
        cursors=stores.cursors,
        max_batches=2,
    )
    first = await poller.poll_once()
    assert not first.drained and first.recorded + first.duplicates == 6
    second = await poller.poll_once()
    assert int(second.cursor or 0) > int(first.cursor or 0)
    assert await stores.cursors.get("roadline") == second.cursor


async def test_an_outage_keeps_the_cursor_and_run_carries_on_once_the_carrier_is_back(
    clean_faults: Sandbox,
    clients: SystemClients,
    stores: Stores,
    recorder: MilestoneRecorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sandbox = clean_faults
    poller = pollers_of(clients, stores, recorder)["roadline"]
    cursor = (await poller.poll_once()).cursor
    await sandbox.aset_faults("roadline", outage=True)
    reference = new_reference("roadline")
    await sandbox.aemit("roadline", reference, "DISPATCHED")

    with pytest.raises(BackendUnavailable):
        await poller.poll_once()
    assert await stores.cursors.get("roadline") == cursor, "a failed round stores nothing"

    stop = asyncio.Event()
    with caplog.at_level(logging.WARNING, logger="process_apis.polling"):
        running = asyncio.create_task(poller.run(0.05, stop))
        await asyncio.sleep(0.3)
        assert not running.done(), "run() must outlive a carrier outage"
        assert await stores.cursors.get("roadline") == cursor
        assert any("polling roadline failed" in r.getMessage() for r in caplog.records)

        await sandbox.areset_faults("roadline")

        async def moved_on() -> bool:
            return await stores.cursors.get("roadline") != cursor

        # The cursor is stored last in a round, so once it moves the round is complete.
        assert await wait_until(moved_on), "polling never moved past the outage"
        stop.set()
        await asyncio.wait_for(running, timeout=1.0)
    await project(stores)
    assert await stores.milestones.history(reference), "the status emitted during the outage"


async def test_run_stops_promptly_even_while_a_poll_waits_on_a_slow_carrier(
    clean_faults: Sandbox, clients: SystemClients, stores: Stores, recorder: MilestoneRecorder
) -> None:
    await clean_faults.aset_faults("heritage", latency_ms=1500)
    stop = asyncio.Event()
    running = asyncio.create_task(
        pollers_of(clients, stores, recorder)["heritage-outbox"].run(10.0, stop)
    )
    await asyncio.sleep(0.2)
    stop.set()
    started = time.monotonic()
    await asyncio.wait_for(running, timeout=1.0)
    assert time.monotonic() - started < 0.5
    assert await stores.cursors.get("heritage-outbox") is None, "the cut-off round stored nothing"


@dataclass
class StandInOutbox:
    """Heritage's outbox as `HeritageClient.outbox` answers it, over fixed interchanges."""

    interchanges: Mapping[int, str]

    async def outbox(self, after: str | None = None) -> MilestoneBatch:
        text = "\n".join(
            body for control, body in sorted(self.interchanges.items()) if control > int(after or 0)
        )
        batch = parse_heritage_outbox(text)
        return batch if batch.cursor else MilestoneBatch(batch.milestones, batch.rejected, after)


class RefusingDeadLetters:
    """A dead-letter store that is down: every `put` fails."""

    async def put(self, **_: object) -> DeadLetter:
        raise RuntimeError("dead letters unavailable")

    async def get(self, dead_letter_id: str) -> DeadLetter | None:
        return None

    async def list(self, *, source: str | None = None, limit: int = 100) -> Sequence[DeadLetter]:
        return []

    async def mark_replayed(self, dead_letter_id: str, outcome: str) -> None:
        return None


def outbox_with_one_bad_interchange() -> tuple[StandInOutbox, str]:
    bad = interchange((Shipment(tracking_number="HF00000902"),), control=902)
    bad = bad.replace("*X6*", "*Q9*")
    good = {
        control: interchange((Shipment(tracking_number=f"HF00000{control}"),), control=control)
        for control in (901, 903)
    }
    return StandInOutbox({**good, 902: bad}), bad


def heritage_poller(
    outbox: StandInOutbox,
    stores: Stores,
    recorder: MilestoneRecorder,
    dead_letters: DeadLetterStore,
) -> CarrierPoller:
    return CarrierPoller(
        source="heritage-outbox",
        fetch=outbox.outbox,
        content_type="application/edi-x12",
        recorder=recorder,
        dead_letters=dead_letters,
        cursors=stores.cursors,
    )


async def test_an_unreadable_heritage_interchange_becomes_a_dead_letter_and_is_passed(
    stores: Stores, recorder: MilestoneRecorder
) -> None:
    outbox, bad = outbox_with_one_bad_interchange()
    poller = heritage_poller(outbox, stores, recorder, stores.dead_letters)
    outcome = await poller.poll_once()
    assert (outcome.recorded, outcome.rejected, outcome.cursor) == (2, 1, "000000903")
    (letter,) = await stores.dead_letters.list(source="heritage-outbox")
    assert letter.body.strip() == bad.encode()
    assert letter.content_type == "application/edi-x12"
    assert "Q9" in letter.reason
    again = await poller.poll_once()
    assert (again.recorded, again.rejected) == (0, 0)
    assert len(await stores.dead_letters.list(source="heritage-outbox")) == 1


async def test_the_cursor_waits_until_the_rejected_records_are_kept(
    stores: Stores, recorder: MilestoneRecorder
) -> None:
    outbox, _ = outbox_with_one_bad_interchange()
    failing = heritage_poller(outbox, stores, recorder, RefusingDeadLetters())
    with pytest.raises(RuntimeError):
        await failing.poll_once()
    assert await stores.cursors.get("heritage-outbox") is None, "nothing may be skipped"

    retried = await heritage_poller(outbox, stores, recorder, stores.dead_letters).poll_once()
    assert (retried.recorded, retried.duplicates, retried.rejected) == (0, 2, 1)
    assert await stores.cursors.get("heritage-outbox") == "000000903"
