"""Purging cached answers when the backbone says their entities changed.

A delivery (a shipment milestone), an order change or a stock change purges the tags of that
shipment, order or item (`process_apis.cache_tags`) as soon as the read models show it: a
purge before the projection has applied the event would let the next answer, read from the
old row, be cached again. Where the purge must happen depends on where entries live:

- in memory, each process holds its own entries, so each process purges them from its own
  tail of the log (the subscription hub's, which holds events back until the read models
  show them); it starts where the read models are, since a new process has nothing cached
  but what it reads from them, and events they have yet to show must still purge;
- on Redis, entries are shared, so one process per deployment purges them (a consumer with a
  lease and a durable position, like the projections): once, and after a restart from where
  it stopped, so no change made while every gateway was down is missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Sequence
from typing import Protocol

from process_apis.cache_tags import INVALIDATING_AGGREGATES, tags_of_event, tags_of_events
from process_apis.live.hub import (
    HubClosed,
    Interest,
    ListenerFellBehind,
    ReadModels,
    SubscriptionHub,
)
from stores.event_log import StoredEvent

logger = logging.getLogger(__name__)

CONSUMER_NAME = "cache-invalidation"
RETRY_S = 1.0


class Purger(Protocol):
    async def purge(self, tags: Iterable[str]) -> int: ...


class SharedCacheInvalidation:
    """The consumer that purges a shared (Redis) cache, once per deployment."""

    name = CONSUMER_NAME

    def __init__(self, store: Purger, read_models: ReadModels, stop: asyncio.Event) -> None:
        self._store = store
        self._read_models = read_models
        self._stop = stop

    async def apply(self, events: Sequence[StoredEvent]) -> None:
        relevant = [e for e in events if e.envelope.aggregate_type in INVALIDATING_AGGREGATES]
        for event in relevant:
            if not await self._read_models.applied(event, self._stop):
                raise asyncio.CancelledError  # stopping: the batch is applied again next time
        tags = tags_of_events(event.envelope for event in relevant)
        if tags:
            await self._store.purge(tags)


async def purge_in_process(hub: SubscriptionHub, store: Purger, stop: asyncio.Event) -> None:
    """Purge this process's own (memory) cache from the hub's tail until ``stop``."""
    await asyncio.gather(
        *(_follow(hub, aggregate, store, stop) for aggregate in INVALIDATING_AGGREGATES)
    )


async def _follow(
    hub: SubscriptionHub, aggregate_type: str, store: Purger, stop: asyncio.Event
) -> None:
    after: int | None = None
    while not stop.is_set():
        try:
            async with hub.listen(Interest(aggregate_type), after=after) as listener:
                async for event in _until(listener, stop):
                    tags = tags_of_event(event.envelope)
                    if tags:
                        await store.purge(tags)
                    after = event.position
        except ListenerFellBehind as behind:
            after = behind.last_position
        except HubClosed:
            return
        except Exception:
            logger.exception("cache invalidation of %s failed; retrying", aggregate_type)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RETRY_S)


async def _until(listener, stop: asyncio.Event):  # type: ignore[no-untyped-def]
    """The listener's events until ``stop`` is set."""
    events = listener.__aiter__()
    stopping = asyncio.ensure_future(stop.wait())
    try:
        while True:
            following = asyncio.ensure_future(events.__anext__())
            done, _ = await asyncio.wait({following, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if following not in done:
                following.cancel()
                return
            try:
                yield following.result()
            except StopAsyncIteration:
                return
    finally:
        stopping.cancel()
