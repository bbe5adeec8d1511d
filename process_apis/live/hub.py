"""The subscription hub: one tail of the event log per process, fanned out to its listeners.

However many subscribers a process serves, it reads the log once: the tail follows the log
(woken at once by this process's appends, polling at a short bounded interval for appends made
by other processes) and hands each event to the listeners interested in its aggregate. A
listener may start from a position it already saw (`after`): it first reads what it missed
from the log, then the live events, with no gap and no duplicate, because it is registered
(synchronously, between two dispatches) before it reads the log up to the tail's head, and the
tail gives it only events after that head. The tail starts at the log's end, or where the
read models are when they are behind it: an event they have yet to show is handed out once they
show it, like any later one, so nothing appended before a process started goes unannounced.

Each listener has a bounded buffer. One that falls behind is dropped: it receives what it had
buffered, then `ListenerFellBehind` with the last position it was given, from where it may
listen again. The hub never grows memory for a slow listener.

An observer sees every event the tail hands out, whoever listens: state kept from the log in
memory (`process_apis.live.statuses`) stays as current as the tail, in log order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol

from stores.event_log import EventLog, EventLogUnavailable, StoredEvent

logger = logging.getLogger(__name__)


class Wakeup(Protocol):
    """An in-process notification (`stores.event_log.AppendSignal`): True when notified."""

    async def wait(self, timeout_s: float) -> bool: ...


Observer = Callable[[StoredEvent], None]
"""Told of each event the tail hands out, before any listener gets it; it must be quick and
must not await (the tail runs it)."""


class ReadModels(Protocol):
    """Holds an event back until the read models it concerns show it (`process_apis.live.gate`)."""

    async def shown_up_to(self) -> int:
        """The position all of them have reached (where the tail starts)."""
        ...

    async def applied(self, event: StoredEvent, stop: asyncio.Event) -> bool:
        """True once they show `event`; False when `stop` was set first."""
        ...


@dataclass(frozen=True, slots=True)
class Interest:
    """Which events a listener wants: one aggregate type, one aggregate or all of that type,
    and optionally a finer test of the event (which must be cheap: the tail runs it)."""

    aggregate_type: str
    aggregate_id: str | None = None
    accepts: Callable[[StoredEvent], bool] | None = None

    def matches(self, event: StoredEvent) -> bool:
        envelope = event.envelope
        if envelope.aggregate_type != self.aggregate_type:
            return False
        if self.aggregate_id is not None and envelope.aggregate_id != self.aggregate_id:
            return False
        return self.accepts is None or self.accepts(event)

    @property
    def index_key(self) -> tuple[str, str | None]:
        return (self.aggregate_type, self.aggregate_id)


class ListenerFellBehind(Exception):
    """The listener did not keep up and was dropped; listen again after `last_position`."""

    def __init__(self, last_position: int) -> None:
        super().__init__(
            f"listener fell behind and was dropped after position {last_position}; "
            "listen again from there"
        )
        self.last_position = last_position


class HubClosed(Exception):
    """The hub stopped (the process is shutting down); no more events will come."""


async def log_end(event_log: EventLog) -> int:
    """The last position in the log, found with O(log n) one-event reads (an exponential then
    a binary search), so no engine needs a method of its own for it."""
    if not await event_log.read(after=0, limit=1):
        return 0
    low, high = 0, 1  # an event exists after `low`; look for a `high` with none after it
    while await event_log.read(after=high, limit=1):
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        if await event_log.read(after=middle, limit=1):
            low = middle
        else:
            high = middle
    (last,) = await event_log.read(after=low, limit=1)
    return last.position


class Listener:
    """One subscriber's view of the log: iterate it for the events of its interest."""

    def __init__(
        self,
        hub: SubscriptionHub,
        interest: Interest,
        *,
        after: int,
        start: int,
        capacity: int,
    ) -> None:
        self._hub = hub
        self.interest = interest
        self._after = after
        self._start = start
        self._capacity = capacity
        self._buffer: deque[StoredEvent] = deque()
        self._ready = asyncio.Event()
        self._fell_behind = False
        self._closed = False
        self.last_position = after

    @property
    def started_after(self) -> int:
        """The position this listener's events start after (its `after`, or the head then)."""
        return self._after

    def offer(self, event: StoredEvent) -> bool:
        """Called by the tail; False when the buffer is full and the listener is dropped."""
        if event.position <= self._after or not self.interest.matches(event):
            return True
        if len(self._buffer) >= self._capacity:
            self._fell_behind = True
            self._ready.set()
            return False
        self._buffer.append(event)
        self._ready.set()
        return True

    def close(self) -> None:
        self._closed = True
        self._ready.set()

    def __aiter__(self) -> AsyncIterator[StoredEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[StoredEvent]:
        async for event in self._missed():
            self.last_position = event.position
            yield event
        while True:
            if self._buffer:
                event = self._buffer.popleft()
                self.last_position = event.position
                yield event
                continue
            if self._fell_behind:
                raise ListenerFellBehind(self.last_position)
            if self._closed:
                raise HubClosed("the subscription hub stopped")
            self._ready.clear()
            await self._ready.wait()

    async def _missed(self) -> AsyncIterator[StoredEvent]:
        """What happened between `after` and the head the listener was registered at."""
        position = self._after
        while position < self._start:
            page = await self._hub.event_log.read(after=position, limit=self._hub.page_size)
            if not page:
                return
            for event in page:
                if event.position > self._start:
                    return
                position = event.position
                if self.interest.matches(event):
                    yield event


class SubscriptionHub:
    """Fans the event log out to in-process listeners; start it lazily, close it at shutdown."""

    def __init__(
        self,
        event_log: EventLog,
        *,
        appended: Wakeup | None = None,
        read_models: ReadModels | None = None,
        poll_interval_s: float = 0.2,
        page_size: int = 500,
        listener_capacity: int = 1000,
        max_retry_s: float = 5.0,
    ) -> None:
        self.event_log = event_log
        self.page_size = page_size
        self._appended = appended
        self._read_models = read_models
        self._poll_interval_s = poll_interval_s
        self._capacity = listener_capacity
        self._max_retry_s = max_retry_s
        self._listeners: dict[tuple[str, str | None], set[Listener]] = {}
        self._observers: list[Observer] = []
        self._head: int | None = None
        self._starting = asyncio.Lock()
        self._stop = asyncio.Event()
        self._tail: asyncio.Task[None] | None = None

    @property
    def head(self) -> int | None:
        """The last position handed to listeners (None before the tail started)."""
        return self._head

    @property
    def listener_count(self) -> int:
        return sum(len(listeners) for listeners in self._listeners.values())

    @contextlib.asynccontextmanager
    async def listen(
        self, interest: Interest, *, after: int | None = None
    ) -> AsyncIterator[Listener]:
        """A listener for `interest`, from `after` (a position already seen) or from now."""
        if after is not None and after < 0:
            raise ValueError("after must be a position (0 or more)")
        head = await self._started()
        listener = Listener(
            self,
            interest,
            after=head if after is None else after,
            start=head,
            capacity=self._capacity,
        )
        self._listeners.setdefault(interest.index_key, set()).add(listener)
        try:
            yield listener
        finally:
            self._forget(listener)

    def observe(self, observer: Observer) -> None:
        """Tell `observer` of every event handed out from now on, in log order and only once
        its read models show it; an observer that raises is logged and the tail goes on."""
        self._observers.append(observer)

    async def current_position(self) -> int:
        """The head: a stream started after it misses nothing from now on."""
        return await self._started()

    async def close(self) -> None:
        self._stop.set()
        if self._tail is not None:
            self._tail.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tail
        for listeners in list(self._listeners.values()):
            for listener in list(listeners):
                listener.close()
        self._listeners.clear()

    async def _started(self) -> int:
        if self._stop.is_set():
            raise HubClosed("the subscription hub stopped")
        async with self._starting:
            if self._head is None:
                self._head = await log_end(self.event_log)
                if self._read_models is not None:
                    # read models behind the log: what they have yet to show is handed out
                    # as they show it (answers read meanwhile lack it, and hear of it then)
                    self._head = min(self._head, await self._read_models.shown_up_to())
                self._tail = asyncio.create_task(self._follow(), name="subscription-hub-tail")
            return self._head

    def _forget(self, listener: Listener) -> None:
        listeners = self._listeners.get(listener.interest.index_key)
        if listeners is not None:
            listeners.discard(listener)
            if not listeners:
                del self._listeners[listener.interest.index_key]

    async def _follow(self) -> None:
        """The tail: read after the head, hold each event until its read models show it, hand
        it out; on trouble wait (doubling up to `max_retry_s`) and go on from the same head."""
        retry_s = self._poll_interval_s
        while not self._stop.is_set():
            try:
                await self._follow_once()
                retry_s = self._poll_interval_s
            except asyncio.CancelledError:
                raise
            except EventLogUnavailable as error:
                logger.warning("subscription hub: event log unavailable: %s", error)
                await self._pause(retry_s)
                retry_s = min(self._max_retry_s, retry_s * 2)
            except Exception:
                logger.exception("subscription hub: tail failed; retrying")
                await self._pause(retry_s)
                retry_s = min(self._max_retry_s, retry_s * 2)

    async def _follow_once(self) -> None:
        assert self._head is not None
        page = await self.event_log.read(after=self._head, limit=self.page_size)
        if not page:
            await self._wait_for_appends()
            return
        for event in page:
            if self._read_models is not None and not await self._read_models.applied(
                event, self._stop
            ):
                return
            self._dispatch(event)
            self._head = event.position

    async def _wait_for_appends(self) -> None:
        if self._appended is None:
            await self._pause(self._poll_interval_s)
        else:
            await self._appended.wait(self._poll_interval_s)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)

    def _dispatch(self, event: StoredEvent) -> None:
        for observer in self._observers:
            try:
                observer(event)
            except Exception:
                logger.exception(
                    "subscription hub: an observer failed at position %s", event.position
                )
        envelope = event.envelope
        for key in (
            (envelope.aggregate_type, envelope.aggregate_id),
            (envelope.aggregate_type, None),
        ):
            listeners = self._listeners.get(key)
            if not listeners:
                continue
            dropped = [listener for listener in listeners if not listener.offer(event)]
            for listener in dropped:
                logger.warning(
                    "subscription hub: dropped a listener that fell behind at position %s",
                    listener.last_position,
                )
                self._forget(listener)
