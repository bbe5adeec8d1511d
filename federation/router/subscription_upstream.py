"""One upstream subscription feeding any number of identical client subscriptions.

An upstream subscription is the subgraph's stream of events for one root field; each of its
events is resolved once (entity fetches, projection) and the resulting event handed to
every client stream that joined. Identical client subscriptions (same operation, variables,
forwarded identity and sharing key, none resuming) join the same upstream, as Apollo
Router's subscription deduplication does: a thousand subscribers to one shipment cost one
upstream stream and one set of entity fetches per event. The key is decided by the router;
this module only keeps upstreams by key, starts them with their first subscriber and closes
them when their last subscriber leaves or their subgraph stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from typing import Any

from federation.router.errors import SubgraphError
from federation.router.subscriptions import (
    SUBSCRIPTION_ENDED,
    SubscriptionEvent,
    SubscriptionStream,
    ended_event,
)

_logger = logging.getLogger("federation.router.subscriptions")

EventSource = Callable[[], AsyncIterator[dict[str, Any]]]
"""Opens the subgraph's stream: its GraphQL responses, one per event."""
Resolver = Callable[[dict[str, Any]], Awaitable[SubscriptionEvent]]
"""Turns one subgraph event into the client's event (entity fetches, projection)."""


class UpstreamSubscription:
    """A subgraph stream and the client streams it feeds; runs while anyone listens."""

    def __init__(
        self,
        *,
        key: Hashable | None,
        subgraph_name: str,
        open_events: EventSource,
        resolve: Resolver,
        capacity: int,
        finished: Callable[[UpstreamSubscription], None],
    ) -> None:
        self.key = key
        self.subgraph_name = subgraph_name
        self._open_events = open_events
        self._resolve = resolve
        self._capacity = capacity
        self._finished = finished
        self._streams: list[SubscriptionStream] = []
        self._task: asyncio.Task[None] | None = None
        self._done = False

    @property
    def subscriber_count(self) -> int:
        return len(self._streams)

    @property
    def accepting(self) -> bool:
        """Whether a new client may still join (the subgraph stream has not stopped)."""
        return not self._done

    def join(self) -> SubscriptionStream:
        """A new client stream fed from here; the subgraph stream opens with the first one."""
        stream = SubscriptionStream(self._capacity, self._leave)
        self._streams.append(stream)
        if self._task is None:
            self._task = asyncio.create_task(self._pump(), name=f"subscription {self.key!r}")
        return stream

    async def _leave(self, stream: SubscriptionStream) -> None:
        self._forget(stream)
        if not self._streams and self._task is not None and not self._done:
            self._done = True
            self._finished(self)
            task = self._task
            if task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def _forget(self, stream: SubscriptionStream) -> None:
        with contextlib.suppress(ValueError):
            self._streams.remove(stream)

    async def aclose(self) -> None:
        """Close the subgraph stream and end every client stream (router shutdown)."""
        final = ended_event(
            "The router closed the subscription.", SUBSCRIPTION_ENDED, self.subgraph_name
        )
        for stream in list(self._streams):
            stream.end(final)
        self._streams.clear()
        self._done = True
        self._finished(self)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _pump(self) -> None:
        final: SubscriptionEvent | None = None
        try:
            events = self._open_events()
            try:
                async for response in events:
                    event = await self._resolve(response)
                    for stream in tuple(self._streams):
                        if not stream.deliver(event):
                            self._forget(stream)  # too slow: ended with its own error
                    if not self._streams:
                        return
            finally:
                await events.aclose()  # type: ignore[attr-defined]
            final = ended_event(
                f'Subgraph "{self.subgraph_name}" ended the subscription.',
                SUBSCRIPTION_ENDED,
                self.subgraph_name,
            )
        except SubgraphError as error:
            final = ended_event(str(error), error.code, self.subgraph_name)
        except Exception:
            _logger.exception("subscription to subgraph %s failed", self.subgraph_name)
            failure = SubgraphError(self.subgraph_name)
            final = ended_event(str(failure), failure.code, self.subgraph_name)
        finally:
            if not self._done:
                self._done = True
                self._finished(self)
            for stream in self._streams:
                stream.end(final)
            self._streams.clear()


class SharedSubscriptions:
    """The running upstream subscriptions by key; a ``None`` key is never shared."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._by_key: dict[Hashable, UpstreamSubscription] = {}
        self._running: set[UpstreamSubscription] = set()

    def __len__(self) -> int:
        """How many upstream subscriptions are open."""
        return len(self._running)

    def join(
        self,
        key: Hashable | None,
        subgraph_name: str,
        open_events: EventSource,
        resolve: Resolver,
    ) -> SubscriptionStream:
        """A stream of the upstream under ``key``, started now unless one is running."""
        upstream = self._by_key.get(key) if key is not None else None
        if upstream is None or not upstream.accepting:
            upstream = UpstreamSubscription(
                key=key,
                subgraph_name=subgraph_name,
                open_events=open_events,
                resolve=resolve,
                capacity=self.capacity,
                finished=self._finished,
            )
            self._running.add(upstream)
            if key is not None:
                self._by_key[key] = upstream
        return upstream.join()

    def _finished(self, upstream: UpstreamSubscription) -> None:
        self._running.discard(upstream)
        if upstream.key is not None and self._by_key.get(upstream.key) is upstream:
            del self._by_key[upstream.key]

    async def aclose(self) -> None:
        """End every subscription (the router is shutting down)."""
        for upstream in list(self._running):
            await upstream.aclose()
