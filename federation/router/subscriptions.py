"""What ``Router.subscribe`` gives a client transport: events of one subscription.

The boundary for client transports (WebSocket, SSE, multipart HTTP)::

    result = await router.subscribe(query, variables, operation_name, context=...,
                                    forwarded=..., options=..., last_event_id=...,
                                    sharing_key=...)
    if isinstance(result, dict):       # refused before anything ran: {"errors": [...]}
        ...                            # parse, validation, limits, variables, planning,
                                       # not a subscription; same codes as queries get
    else:                              # a SubscriptionStream
        try:
            async for event in result:  # SubscriptionEvent(payload, event_id)
                send(event.payload)     # {"data": ..., "errors"?: [...]}
        finally:
            await result.aclose()       # leaving closes what only this client used upstream

Every event is a complete GraphQL response: the subgraph's event with the rest of the
client's selection resolved through entity fetches, projected onto the client's selection,
nulls propagated and subgraph errors re-pathed (and redacted) as for a query. The stream
ends after an event whose only error says why when the subgraph's stream ends, fails or
disconnects (``SUBSCRIPTION_ENDED`` or the subgraph failure's code), and with
``SUBSCRIPTION_CONSUMER_TOO_SLOW`` when the client leaves more events unread than the
router buffers for it: a slow client is disconnected rather than allowed to grow memory.

Events of a shared upstream subscription are the same object for every subscriber: a
transport serialises ``payload`` and must not change it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

SUBSCRIPTION_ENDED = "SUBSCRIPTION_ENDED"
CONSUMER_TOO_SLOW = "SUBSCRIPTION_CONSUMER_TOO_SLOW"


@dataclass(frozen=True, slots=True)
class SubscriptionEvent:
    """One event: a GraphQL response and the subgraph's id for it (``extensions.eventId``).

    A client that reconnects passes the last ``event_id`` it saw as ``last_event_id`` to
    resume after it, when the subgraph supports resuming.
    """

    payload: dict[str, Any]
    event_id: str | None = None


class SubscriptionStream:
    """One client's subscription: an async iterator of events, left with ``aclose()``.

    Events are buffered up to ``capacity``; a client that falls further behind loses what
    was buffered and gets one last event saying so. The stream is fed by the upstream it
    joined and tells it, through ``leave``, when this client no longer listens.

    Instead of iterating, a transport may be told as each event arrives (``when_ready``) and
    ``take`` it at once: then nothing of the client waits between events (a
    ``federation.router.streaming.BufferedEventStream``).
    """

    def __init__(self, capacity: int, leave: Callable[[SubscriptionStream], Any]) -> None:
        self._capacity = capacity
        self._leave = leave
        self._pending: deque[SubscriptionEvent] = deque()
        self._ended = False
        self._closed = False
        # The consumer waiting for an event: a bare future is cheaper to wake than an Event,
        # and one upstream event wakes every stream that shares it.
        self._waiter: asyncio.Future[None] | None = None
        self._ready: Callable[[], None] | None = None

    def __aiter__(self) -> SubscriptionStream:
        return self

    async def __anext__(self) -> SubscriptionEvent:
        while not self._pending:
            if self._ended:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._pending.popleft()

    def _wake(self) -> None:
        if self._ready is not None:
            self._ready()
            return
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def when_ready(self, ready: Callable[[], None] | None) -> None:
        """Call ``ready`` at once whenever an event arrives or the stream ends (``None``:
        stop); the caller then ``take``s the events instead of iterating."""
        self._ready = ready

    def take(self) -> SubscriptionEvent | None:
        """The next buffered event, or None when none is buffered now."""
        return self._pending.popleft() if self._pending else None

    @property
    def buffered(self) -> int:
        return len(self._pending)

    @property
    def exhausted(self) -> bool:
        """Ended, with every event taken."""
        return self._ended and not self._pending

    async def aclose(self) -> None:
        """Stop listening; when no other client shares the upstream, it is closed too."""
        if self._closed:
            return
        self._closed = self._ended = True
        self._pending.clear()
        self._wake()
        left = self._leave(self)
        if asyncio.iscoroutine(left):
            await left

    @property
    def closed(self) -> bool:
        """Whether no event will be added any more (ended upstream or left)."""
        return self._ended

    # -- fed by the upstream --------------------------------------------------------------

    def deliver(self, event: SubscriptionEvent) -> bool:
        """Queue ``event``; False when the client was too slow and is now disconnected."""
        if self._ended:
            return False
        if len(self._pending) >= self._capacity:
            self._pending.clear()
            self.end(_too_slow(self._capacity))
            return False
        self._pending.append(event)
        self._wake()
        return True

    def end(self, final: SubscriptionEvent | None) -> None:
        """No more events after ``final`` (if any)."""
        if self._ended:
            return
        if final is not None:
            self._pending.append(final)
        self._ended = True
        self._wake()


SubscriptionResult: TypeAlias = dict[str, Any] | SubscriptionStream
"""A refusal (a GraphQL response with ``errors`` only) or the stream of events."""


def ended_event(message: str, code: str, service_name: str) -> SubscriptionEvent:
    """The last event of a stream whose subgraph stopped sending: why, as a GraphQL error."""
    error = {"message": message, "extensions": {"code": code, "serviceName": service_name}}
    return SubscriptionEvent({"data": None, "errors": [error]})


def _too_slow(capacity: int) -> SubscriptionEvent:
    message = f"The subscriber left more than {capacity} events unread and was disconnected."
    return SubscriptionEvent(
        {"data": None, "errors": [{"message": message, "extensions": {"code": CONSUMER_TOO_SLOW}}]}
    )
