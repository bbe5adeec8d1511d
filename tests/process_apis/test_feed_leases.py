"""Several processes, one poller per feed: a lease per feed in the shared store, taken over when
its holder stops renewing it, against the real RoadLine feed and a real SQLite store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from process_apis.polling import CarrierPoller, FeedLease
from process_apis.tracking import MilestoneRecorder
from stores import Stores
from system_apis import MilestoneBatch, SystemClients

TTL_S = 2.0
"""Longer than one batch takes on a loaded machine, short enough to wait out in a test."""


def roadline_poller(
    clients: SystemClients,
    stores: Stores,
    recorder: MilestoneRecorder,
    holder: str,
    fetched_by: list[tuple[str, float]],
    ttl_s: float = TTL_S,
) -> CarrierPoller:
    async def fetch(after: str | None) -> MilestoneBatch:
        fetched_by.append((holder, time.monotonic()))
        return await clients.roadline.status_updates(after, limit=200)

    return CarrierPoller(
        source="roadline",
        fetch=fetch,
        content_type="application/json",
        recorder=recorder,
        dead_letters=stores.dead_letters,
        cursors=stores.cursors,
        lease=FeedLease(stores.leases, holder, ttl_s),
    )


async def wait_until(condition: Callable[[], bool], timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.02)
    return False


async def test_only_the_lease_holder_polls_and_another_takes_over_once_it_lapses(
    clients: SystemClients, stores: Stores, recorder: MilestoneRecorder
) -> None:
    fetched: list[tuple[str, float]] = []
    first = roadline_poller(clients, stores, recorder, "process-a", fetched)
    second = roadline_poller(clients, stores, recorder, "process-b", fetched)

    polled = await first.poll_once()
    assert polled.held and polled.recorded > 0
    skipped = await second.poll_once()
    assert not skipped.held and {holder for holder, _ in fetched} == {"process-a"}
    assert (skipped.recorded, skipped.duplicates) == (0, 0), "the other process read nothing"

    await asyncio.sleep(TTL_S * 1.5)  # process-a died: it renews no more
    taken = await second.poll_once()
    assert taken.held, "the lapsed lease is taken over"
    assert taken.cursor == polled.cursor, "and polling goes on from the stored cursor"
    assert not (await first.poll_once()).held, "the old holder, back, is now refused"


async def test_running_pollers_of_two_processes_never_poll_the_same_feed_at_once(
    clients: SystemClients, stores: Stores, recorder: MilestoneRecorder
) -> None:
    fetched: list[tuple[str, float]] = []
    stop_first, stop_second = asyncio.Event(), asyncio.Event()
    # a long lease: the hand-over here is the release of a clean stop, not an expiry
    first = roadline_poller(clients, stores, recorder, "process-a", fetched, ttl_s=30.0)
    second = roadline_poller(clients, stores, recorder, "process-b", fetched, ttl_s=30.0)
    running_first = asyncio.create_task(first.run(0.05, stop_first))
    assert await wait_until(lambda: len(fetched) >= 1)
    running_second = asyncio.create_task(second.run(0.05, stop_second))
    try:
        assert await wait_until(lambda: len(fetched) >= 4), "polling goes on"
        assert {holder for holder, _ in fetched} == {"process-a"}, fetched
        stop_first.set()  # a clean stop releases the lease: the other takes over at once
        await asyncio.wait_for(running_first, timeout=30)
        stopped_at = time.monotonic()
        assert await wait_until(lambda: fetched[-1][0] == "process-b"), "taken over"
        assert all(at <= stopped_at for holder, at in fetched if holder == "process-a")
    finally:
        stop_first.set()
        stop_second.set()
        await asyncio.wait_for(asyncio.gather(running_first, running_second), timeout=30)
    assert await stores.leases.holder("poll:roadline") is None, "released on the way out"


@pytest.mark.parametrize("ttl_s", [0.0, -1.0])
async def test_a_lease_without_a_positive_ttl_is_refused(stores: Stores, ttl_s: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        await FeedLease(stores.leases, "process-a", ttl_s).hold("roadline")
