"""Following the event log: positions kept, one applier per deployment, takeover, rebuild.

Runs on the embedded SQL log and on the real NATS JetStream log.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace

import pytest

from process_apis.consumers import ConsumerBusy, ConsumerRunner, runner_for
from stores import LeaseStore, StoredEvent, Stores, open_stores
from stores.event_log import SignallingEventLog
from tests.stores.test_event_log import make_event

WAIT_S = 10.0


@pytest.fixture(params=["sql", "jetstream"])
async def stores(request, tmp_path) -> AsyncIterator[Stores]:
    opened = await open_stores(f"sqlite+aiosqlite:///{tmp_path / 'gateway.sqlite3'}")
    if request.param == "jetstream":
        from stores.jetstream import JetStreamEventLog

        log = await JetStreamEventLog.connect(
            request.getfixturevalue("nats_url"),
            stream=f"TEST_{uuid.uuid4().hex[:10].upper()}",
            subject_prefix=f"test.{uuid.uuid4().hex[:10]}",
        )
        await opened.event_log.close()
        opened = replace(opened, event_log=SignallingEventLog(log, opened.appended))
        yield opened
        await log._js.delete_stream(log._stream)
    else:
        yield opened
    await opened.close()


@dataclass
class Tally:
    """A read model in memory: how often each event was applied, and in which order."""

    name: str
    applied: list[str] = field(default_factory=list)
    fail_next: int = 0
    resets: int = 0

    async def apply(self, events: Sequence[StoredEvent]) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("the read model's database went away")
        self.applied.extend(event.envelope.event_id for event in events)

    async def reset(self) -> None:
        self.resets += 1
        self.applied.clear()


async def append(stores: Stores, count: int) -> list[str]:
    ids = [f"evt-{uuid.uuid4().hex}" for _ in range(count)]
    for minutes, event_id in enumerate(ids):
        await stores.event_log.append(make_event(event_id, minutes))
    return ids


async def eventually(check, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        await asyncio.sleep(0.02)


def runner(stores: Stores, holder: str | None = None, **settings: float) -> ConsumerRunner:
    built = runner_for(stores, lease_ttl_s=settings.pop("lease_ttl_s", 5.0), **settings)
    if holder is not None:
        built.holder_id = holder
    return built


async def test_catch_up_applies_each_event_once_in_log_order_and_keeps_the_position(stores):
    ids = await append(stores, 7)
    tally = Tally(unique_name())
    position = await runner(stores, batch_size=3).catch_up(tally)
    assert tally.applied == ids
    assert await stores.positions.get(tally.name) == position
    assert await runner(stores).catch_up(tally) == position
    assert tally.applied == ids, "a second catch-up applies nothing again"


async def test_a_running_consumer_follows_new_appends(stores):
    tally = Tally(unique_name())
    stop = asyncio.Event()
    task = asyncio.create_task(runner(stores).run(tally, stop))
    try:
        ids = await append(stores, 3)
        await eventually(lambda: tally.applied == ids, "the appends are applied")
        more = await append(stores, 2)
        await eventually(lambda: tally.applied == ids + more, "later appends are applied")
    finally:
        stop.set()
        await asyncio.wait_for(task, WAIT_S)
    assert await stores.leases.holder("consumer:" + tally.name) is None, "released on stop"


@dataclass
class CountedReads:
    """The log as a runner sees it, counting the reads it makes."""

    log: SignallingEventLog
    reads: int = 0

    async def read(self, *, after: int = 0, limit: int = 100) -> Sequence[StoredEvent]:
        self.reads += 1
        return await self.log.read(after=after, limit=limit)


async def test_a_runner_that_applied_all_this_process_appended_waits_for_the_next_append(stores):
    tally = Tally(unique_name())
    stop = asyncio.Event()
    following = runner(stores, idle_s=30.0)  # no polls for other processes' appends here
    following.event_log = counted = CountedReads(stores.event_log)  # type: ignore[assignment]
    task = asyncio.create_task(following.run(tally, stop))
    try:
        await eventually(lambda: counted.reads == 1, "the runner looked at the log")
        ids = await append(stores, 1)
        await eventually(lambda: tally.applied == ids, "the append is applied")
        await asyncio.sleep(0.2)
        assert counted.reads == 2, "after applying it, the log is not asked again until an append"
        more = await append(stores, 2)
        await eventually(lambda: tally.applied == ids + more, "the next appends are applied")
    finally:
        stop.set()
        await asyncio.wait_for(task, WAIT_S)


@dataclass
class DyingLeases:
    """Process a's view of the leases: once it dies it neither renews nor releases, so its
    lease stays behind until it expires, as when a process is killed."""

    leases: LeaseStore
    dead: bool = False

    async def acquire(self, name: str, holder: str, ttl_s: float) -> bool:
        return False if self.dead else await self.leases.acquire(name, holder, ttl_s)

    async def release(self, name: str, holder: str) -> None:
        if not self.dead:
            await self.leases.release(name, holder)

    async def holder(self, name: str) -> str | None:
        return await self.leases.holder(name)


async def test_one_process_applies_and_another_takes_over_when_it_dies(stores):
    name = unique_name()
    first, second = Tally(name), Tally(name)
    stop_first, stop_second = asyncio.Event(), asyncio.Event()
    process_a = runner(stores, "process-a", lease_ttl_s=0.6)
    process_a.leases = dying = DyingLeases(stores.leases)
    a = asyncio.create_task(process_a.run(first, stop_first))
    deadline = time.monotonic() + WAIT_S
    while await stores.leases.holder("consumer:" + name) != "process-a":
        assert time.monotonic() < deadline, "process a never took the lease"
        await asyncio.sleep(0.02)
    b = asyncio.create_task(runner(stores, "process-b", lease_ttl_s=0.6).run(second, stop_second))
    try:
        early = await append(stores, 4)
        await eventually(lambda: first.applied == early, "process a applies")
        assert second.applied == [], "only the lease holder applies"
        dying.dead = True
        while await stores.leases.holder("consumer:" + name) != "process-b":
            assert time.monotonic() < deadline + WAIT_S, "process b never took over"
            await asyncio.sleep(0.02)
        late = await append(stores, 3)
        await eventually(lambda: second.applied == late, "process b goes on where a stopped")
        assert first.applied == early, "the dead process applies nothing more"
    finally:
        stop_first.set()
        stop_second.set()
        await asyncio.wait_for(asyncio.gather(a, b), WAIT_S)


async def test_a_failing_batch_is_retried_and_never_skipped(stores):
    ids = await append(stores, 3)
    tally = Tally(unique_name(), fail_next=2)
    stop = asyncio.Event()
    task = asyncio.create_task(runner(stores, failure_backoff_s=0.05).run(tally, stop))
    try:
        await eventually(lambda: tally.applied == ids, "the batch is applied after failures")
    finally:
        stop.set()
        await asyncio.wait_for(task, WAIT_S)


async def test_rebuild_from_the_start_gives_the_same_result(stores):
    await append(stores, 5)
    tally = Tally(unique_name())
    built = runner(stores)
    await built.catch_up(tally)
    before = list(tally.applied)
    tally.applied.append("corrupted")
    position = await built.rebuild(tally)
    assert tally.resets == 1
    assert tally.applied == before
    assert await stores.positions.get(tally.name) == position


async def test_rebuild_from_a_position_reapplies_only_what_follows(stores):
    await append(stores, 3)
    tally = Tally(unique_name())
    built = runner(stores)
    middle = await built.catch_up(tally)
    later = await append(stores, 2)
    await built.rebuild(tally, from_position=middle)
    assert tally.resets == 0
    assert tally.applied[-2:] == later


async def test_rebuild_refuses_while_another_process_applies(stores):
    tally = Tally(unique_name())
    await stores.leases.acquire("consumer:" + tally.name, "someone-else", ttl_s=30)
    with pytest.raises(ConsumerBusy):
        await runner(stores).rebuild(tally)


def unique_name() -> str:
    return f"tally-{uuid.uuid4().hex[:8]}"
