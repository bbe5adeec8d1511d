"""Moving one subscription's events to one client, with a bound on what may wait between.

At most ``max_queued_events`` wait for a client; when the queue stays full for
``slow_consumer_grace_s`` (a burst, such as a resumed stream's backlog, drains well within
it) delivery stops with ``SLOW_CONSUMER`` (the transport tells the client and disconnects
it), so a client that stops reading costs a bounded amount of memory, never a growing
backlog. The stream decides how events move:

- A stream that buffers its own events (``BufferedEventStream``: the router's) tells the
  delivery as each one arrives, and the event is sent there and then, in the task that
  handed it over: for a shared upstream that is one task sending one event to its thousand
  subscribers in a row, with no task switch per subscriber and nothing of theirs left
  waiting between events (a waiting task's objects outlive the young garbage collections
  and make the full ones come sooner). Only a send that has to wait for its client (a full
  socket) goes on in a task of the subscription's own, which then also sends what arrives
  meanwhile, queued.
- Any other stream, and any delivery with heartbeats (the HTTP streams, which beat after
  silence), is read by a pump task and written by a writer task with the queue between
  them: the writer is what blocks on a full socket, so the pump notices the overflow even
  while no write can complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import enum
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Generator
from typing import Any

from federation.router.streaming.settings import StreamSettings
from federation.router.streaming.shutdown import StreamShutdown
from federation.router.streaming.source import BufferedEventStream, EventStream, StreamEvent

_logger = logging.getLogger("federation.router.streaming")

SendEvent = Callable[[StreamEvent], Awaitable[None]]


class Ending(enum.Enum):
    """Why delivery of a subscription stopped."""

    COMPLETED = "completed"
    """The stream ended and every event was sent."""
    SLOW_CONSUMER = "slow consumer"
    """More than ``max_queued_events`` waited for the client."""
    SHUTDOWN = "shutdown"
    """The server is closing."""
    FAILED = "failed"
    """The stream raised; the details are in the log, never sent to the client."""
    DISCONNECTED = "disconnected"
    """The client went away (a write failed or the connection reported it)."""


async def deliver(
    stream: EventStream,
    send_event: SendEvent,
    *,
    settings: StreamSettings,
    shutdown: StreamShutdown,
    heartbeat: Callable[[], Awaitable[None]] | None = None,
    disconnected: asyncio.Event | None = None,
) -> Ending:
    """Send every event of ``stream`` through ``send_event`` until one of the endings.

    ``heartbeat`` is sent whenever ``settings.heartbeat_s`` pass without an event (WebSocket
    connections beat once per connection instead, so they pass none). The stream is closed
    on every ending.
    """
    delivery: _Pushed | _Pulled
    if heartbeat is None and isinstance(stream, BufferedEventStream):
        delivery = _Pushed(stream, send_event, settings)
    else:
        delivery = _Pulled(stream, send_event, settings, heartbeat)
    running = delivery.start()
    stops = {
        asyncio.create_task(delivery.overflowed.wait()): Ending.SLOW_CONSUMER,
        asyncio.create_task(shutdown.wait()): Ending.SHUTDOWN,
    }
    if disconnected is not None:
        stops[asyncio.create_task(disconnected.wait())] = Ending.DISCONNECTED
    try:
        done, _ = await asyncio.wait({running, *stops}, return_when=asyncio.FIRST_COMPLETED)
        if delivery.overflowed.is_set():  # wins over the other endings: the client must be told
            return Ending.SLOW_CONSUMER
        if running in done:
            try:
                return running.result()
            except Exception:  # the client's connection failed under a write
                return Ending.DISCONNECTED
        return next(ending for stop, ending in stops.items() if stop in done)
    finally:
        tasks = [*delivery.stop(), *stops]
        for task in tasks:
            task.cancel()
        try:
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            with contextlib.suppress(Exception):
                await stream.aclose()


class _Pushed:
    """Delivery of a stream that buffers its own events: each is sent as it arrives."""

    def __init__(
        self, stream: BufferedEventStream, send_event: SendEvent, settings: StreamSettings
    ) -> None:
        self.stream = stream
        self.send_event = send_event
        self.limit = settings.max_queued_events
        self.grace_s = settings.slow_consumer_grace_s
        # Sends run in the subscriber's context wherever they run, as in a task of its own.
        self.context = contextvars.copy_context()
        self.waiting: deque[StreamEvent] = deque()
        # Finishing a send that had to wait, then the queue; None while sends complete at once.
        self.sending: asyncio.Task[None] | None = None
        self.grace: asyncio.TimerHandle | None = None
        self.overflowed = asyncio.Event()
        self.ended: asyncio.Future[Ending] = asyncio.get_running_loop().create_future()

    def start(self) -> asyncio.Future[Ending]:
        self.stream.when_ready(self._ready)
        self._ready()  # what arrived before delivery started
        return self.ended

    def stop(self) -> list[asyncio.Task[None]]:
        self.stream.when_ready(None)
        if self.grace is not None:
            self.grace.cancel()
        return [self.sending] if self.sending is not None else []

    def _ready(self) -> None:
        """The stream's call, from whichever task fed it: an event arrived, or it ended."""
        if self.ended.done():
            return
        try:
            if self.sending is not None:
                self._hold()
            else:
                self.context.run(self._send_arrived)
        except Exception:  # never the feeding task's (the other subscribers') problem
            _logger.exception("delivering a subscription's event failed")
            self._end(Ending.FAILED)

    def _send_arrived(self) -> None:
        """Send each arrived event at once, until one send has to wait (or none is left)."""
        while (event := self.stream.take()) is not None:
            try:
                rest = _started(self.send_event(event))
            except Exception:  # the client's connection failed under the write
                self._end(Ending.DISCONNECTED)
                return
            if rest is not None:
                self.sending = asyncio.create_task(self._finish(rest), context=self.context)
                self._hold()
                return
        if self.stream.exhausted:
            self._end(Ending.COMPLETED)

    async def _finish(self, rest: Awaitable[None]) -> None:
        """The send that had to wait, then the queue; then back to sending at once."""
        try:
            await rest
            while self.waiting:
                event = self.waiting.popleft()
                self._taken()
                await self.send_event(event)
        except Exception:
            self._end(Ending.DISCONNECTED)
            return
        self.sending = None
        self._send_arrived()

    def _hold(self) -> None:
        """Queue what arrived while a send waits, up to the bound; a full queue with more
        behind it starts the grace, after which the client is a slow consumer."""
        while len(self.waiting) < self.limit and (event := self.stream.take()) is not None:
            self.waiting.append(event)
        if self.grace is None and len(self.waiting) >= self.limit and self.stream.buffered:
            loop = asyncio.get_running_loop()
            self.grace = loop.call_later(self.grace_s, self._overflow)

    def _taken(self) -> None:
        """An event left the queue: the grace starts again if the queue fills again."""
        if self.grace is not None:
            self.grace.cancel()
            self.grace = None
        self._hold()

    def _overflow(self) -> None:
        self.grace = None
        self.overflowed.set()
        self._end(Ending.SLOW_CONSUMER)

    def _end(self, ending: Ending) -> None:
        if not self.ended.done():
            self.ended.set_result(ending)


def _started(send: Awaitable[None]) -> Awaitable[None] | None:
    """Runs ``send`` in the caller until it completes (None) or has to wait: then what is
    left of it, to be awaited in a task (exactly as if that task had awaited it all)."""
    sending = send.__await__()
    try:
        waited_on = sending.send(None)
    except StopIteration:
        return None
    return _Rest(sending, waited_on)


class _Rest:
    """A send suspended on ``waited_on``; awaiting it goes on as ``yield from`` would."""

    __slots__ = ("_sending", "_waited_on")

    def __init__(self, sending: Generator[Any, Any, None], waited_on: Any) -> None:
        self._sending = sending
        self._waited_on = waited_on

    def __await__(self) -> Generator[Any, Any, None]:
        sending, waited_on = self._sending, self._waited_on
        while True:
            try:
                sent = yield waited_on
            except GeneratorExit:
                sending.close()
                raise
            except BaseException as error:  # a cancellation reaches the send itself
                try:
                    waited_on = sending.throw(error)
                except StopIteration:
                    return
            else:
                try:
                    waited_on = sending.send(sent)
                except StopIteration:
                    return


class _Pulled:
    """Delivery of any other stream: a pump task reads it, a writer task sends."""

    def __init__(
        self,
        stream: EventStream,
        send_event: SendEvent,
        settings: StreamSettings,
        heartbeat: Callable[[], Awaitable[None]] | None,
    ) -> None:
        self.stream = stream
        self.send_event = send_event
        self.settings = settings
        self.heartbeat = heartbeat
        self.waiting: deque[StreamEvent] = deque()
        self.arrived = asyncio.Event()
        self.taken = asyncio.Event()
        self.overflowed = asyncio.Event()
        self.pump_ended = False
        self.failed = False
        self.tasks: list[asyncio.Task[Any]] = []

    def start(self) -> asyncio.Task[Ending]:
        writing = asyncio.create_task(self._write())
        self.tasks = [writing, asyncio.create_task(self._pump())]
        return writing

    def stop(self) -> list[asyncio.Task[Any]]:
        return self.tasks

    async def _pump(self) -> None:
        limit, grace_s = self.settings.max_queued_events, self.settings.slow_consumer_grace_s
        try:
            async for event in self.stream:
                while len(self.waiting) >= limit:
                    self.taken.clear()
                    try:  # a burst (a resumed stream's backlog) is not yet a slow consumer
                        async with asyncio.timeout(grace_s):
                            await self.taken.wait()
                    except TimeoutError:
                        self.overflowed.set()
                        return
                self.waiting.append(event)
                self.arrived.set()
        except Exception:
            _logger.exception("a subscription's event stream failed")
            self.failed = True
        finally:
            self.pump_ended = True
            self.arrived.set()

    async def _write(self) -> Ending:
        while True:
            if self.waiting:
                event = self.waiting.popleft()
                self.taken.set()
                await self.send_event(event)
                continue
            if self.overflowed.is_set():
                return Ending.SLOW_CONSUMER
            if self.pump_ended:
                return Ending.FAILED if self.failed else Ending.COMPLETED
            self.arrived.clear()
            if self.heartbeat is None:
                await self.arrived.wait()
                continue
            try:
                async with asyncio.timeout(self.settings.heartbeat_s):
                    await self.arrived.wait()
            except TimeoutError:
                await self.heartbeat()


def slow_consumer_errors(settings: StreamSettings) -> list[dict[str, object]]:
    """What a slow consumer is told before it is disconnected."""
    message = (
        f"Slow consumer: more than {settings.max_queued_events} events waited for this client; "
        "disconnecting. Reconnect with the last event id seen to resume."
    )
    return [{"message": message, "extensions": {"code": "SLOW_CONSUMER"}}]


def shutdown_errors() -> list[dict[str, object]]:
    message = "The server is shutting down. Reconnect with the last event id seen to resume."
    return [{"message": message, "extensions": {"code": "SHUTTING_DOWN"}}]


def internal_errors() -> list[dict[str, object]]:
    return [{"message": "Internal server error", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]
