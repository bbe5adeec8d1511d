"""Consumers of the event log: projections, workflow triggers, anything that follows the log.

A consumer applies events in log order and its position is stored only after a batch is applied,
so a crash re-applies that batch and never skips one: `apply` must therefore be idempotent
(keyed by event id, or an upsert that lands on the same state). One process per deployment runs
a given consumer at a time: the runner holds a lease named after it, renews it between batches,
and another process takes over when the holder dies and its lease expires.

The runner wakes at once on appends made in this process (`AppendSignal`) and polls for appends
made by other processes every `idle_s`; once it has applied everything this process appended
(a batch shorter than `batch_size` that reaches the signal's last position), it waits for the
next append or poll rather than asking the log again at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from stores.bundle import Stores
from stores.event_log import AppendSignal, EventLog, StoredEvent
from stores.leases import LeaseStore
from stores.positions import PositionStore

logger = logging.getLogger(__name__)

LEASE_PREFIX = "consumer:"

AppliedObserver = Callable[[str, Sequence[StoredEvent]], None]
"""``on_applied(consumer name, events)`` after a batch is applied."""


class LogConsumer(Protocol):
    """Something that follows the log under a stable `name` (its position and lease key)."""

    name: str

    async def apply(self, events: Sequence[StoredEvent]) -> None:
        """Apply a batch in log order; may see an event again after a crash."""
        ...


class ResettableConsumer(LogConsumer, Protocol):
    async def reset(self) -> None:
        """Forget everything applied (drop the read model's rows) before a full rebuild."""
        ...


class ConsumerBusy(Exception):
    """Another process holds the consumer's lease; a rebuild must run where it is held."""


@dataclass(slots=True)
class ConsumerRunner:
    event_log: EventLog
    positions: PositionStore
    leases: LeaseStore
    appended: AppendSignal
    progressed: AppendSignal
    holder_id: str
    batch_size: int = 500
    idle_s: float = 0.05
    """How often to look for appends made by other processes."""
    lease_ttl_s: float = 10.0
    failure_backoff_s: float = 1.0
    on_applied: AppliedObserver | None = None
    """Told each batch once it is applied and its position stored (event lag metrics)."""

    async def catch_up(self, consumer: LogConsumer) -> int:
        """Apply everything appended so far, here and now (no lease); returns the position.

        For tests, tools and read-your-writes: safe beside a running runner because `apply` is
        idempotent and positions never move backwards.
        """
        position = await self.positions.get(consumer.name)
        while True:
            events = await self.event_log.read(after=position, limit=self.batch_size)
            if not events:
                return position
            position = await self._apply(consumer, events)

    async def rebuild(
        self,
        consumer: ResettableConsumer,
        *,
        from_position: int = 0,
        progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Re-apply the log from `from_position` (0: forget everything first, then replay all);
        `progress` is told (events applied so far, position) after each batch.

        Takes the consumer's lease for the duration, so no runner applies at the same time;
        raises `ConsumerBusy` when another process holds it.
        """
        lease = LEASE_PREFIX + consumer.name
        if not await self.leases.acquire(lease, self.holder_id, self.lease_ttl_s):
            raise ConsumerBusy(f"{consumer.name} is being applied by another process")
        if from_position <= 0:
            await consumer.reset()
        await self.positions.reset(consumer.name, max(from_position, 0))
        position = max(from_position, 0)
        renewed_at = time.monotonic()
        applied = 0
        while True:
            events = await self.event_log.read(after=position, limit=self.batch_size)
            if not events:
                return position
            position = await self._apply(consumer, events)
            applied += len(events)
            if progress is not None:
                progress(applied, position)
            if time.monotonic() - renewed_at > self.lease_ttl_s / 3:
                await self.leases.acquire(lease, self.holder_id, self.lease_ttl_s)
                renewed_at = time.monotonic()

    async def run(self, consumer: LogConsumer, stop: asyncio.Event) -> None:
        """Follow the log until `stop` is set, while this process holds the consumer's lease;
        otherwise wait and try to take it over. Failures are logged and retried, never fatal."""
        lease = LEASE_PREFIX + consumer.name
        holding = False
        try:
            while not stop.is_set():
                try:
                    holding = await self.leases.acquire(lease, self.holder_id, self.lease_ttl_s)
                    if holding:
                        await self._follow(consumer, lease, stop)
                        continue
                    wait_s = self.lease_ttl_s / 3
                except Exception:
                    logger.exception("consumer %s failed; retrying", consumer.name)
                    wait_s = self.failure_backoff_s
                if await stopped_within(stop, wait_s):
                    return
        finally:
            if holding:
                try:
                    await self.leases.release(lease, self.holder_id)
                except Exception:
                    logger.warning("could not release the lease of %s", consumer.name)

    async def _follow(self, consumer: LogConsumer, lease: str, stop: asyncio.Event) -> None:
        """Apply while the lease is ours; returns to let `run` renew or re-take it."""
        renew_every_s = self.lease_ttl_s / 3
        renewed_at = time.monotonic()
        position = await self.positions.get(consumer.name)
        while not stop.is_set() and time.monotonic() - renewed_at < renew_every_s:
            events = await self.event_log.read(after=position, limit=self.batch_size)
            if events:
                position = await self._apply(consumer, events)
                if len(events) == self.batch_size or position < self.appended.last_position:
                    continue
                # applied all this process appended: no need to ask the log for more now
            waiting = asyncio.ensure_future(self.appended.wait(self.idle_s))
            stopping = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({waiting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiting.cancel()
                stopping.cancel()

    async def _apply(self, consumer: LogConsumer, events: Sequence[StoredEvent]) -> int:
        await consumer.apply(events)
        position = events[-1].position
        await self.positions.advance(consumer.name, position)
        self.progressed.notify()
        if self.on_applied is not None:
            self.on_applied(consumer.name, events)
        return position


def runner_for(
    stores: Stores, *, on_applied: AppliedObserver | None = None, **settings: float
) -> ConsumerRunner:
    """A runner over `stores`' log, positions and leases, named by this process's holder id."""
    return ConsumerRunner(
        event_log=stores.event_log,
        positions=stores.positions,
        leases=stores.leases,
        appended=stores.appended,
        progressed=stores.progressed,
        holder_id=stores.holder_id,
        on_applied=on_applied,
        **settings,  # type: ignore[arg-type]
    )


async def stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True
