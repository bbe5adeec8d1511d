"""Moving one subscription's events to one client, with a bound on what may wait between.

Two tasks per subscription: the pump reads the router's stream as fast as it produces, the
writer sends to the client as fast as the client reads. Between them at most
``max_queued_events`` wait; when the queue stays full for ``slow_consumer_grace_s`` (a burst,
such as a resumed stream's backlog, drains well within it) delivery stops with
``SLOW_CONSUMER`` (the transport tells the client and disconnects it), so a client that
stops reading costs a bounded amount of memory, never a growing backlog. The writer is
what blocks on a full socket, so the pump notices the overflow even while no write can
complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from federation.router.streaming.settings import StreamSettings
from federation.router.streaming.shutdown import StreamShutdown
from federation.router.streaming.source import EventStream, StreamEvent

_logger = logging.getLogger("federation.router.streaming")


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
    send_event: Callable[[StreamEvent], Awaitable[None]],
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
    waiting: deque[StreamEvent] = deque()
    arrived = asyncio.Event()
    taken = asyncio.Event()
    overflowed = asyncio.Event()
    pump_ended = asyncio.Event()
    failed = False

    async def pump() -> None:
        nonlocal failed
        try:
            async for event in stream:
                while len(waiting) >= settings.max_queued_events:
                    taken.clear()
                    try:  # a burst (a resumed stream's backlog) is not yet a slow consumer
                        await asyncio.wait_for(taken.wait(), settings.slow_consumer_grace_s)
                    except TimeoutError:
                        overflowed.set()
                        return
                waiting.append(event)
                arrived.set()
        except Exception:
            _logger.exception("a subscription's event stream failed")
            failed = True
        finally:
            pump_ended.set()
            arrived.set()

    async def write() -> Ending:
        while True:
            if waiting:
                event = waiting.popleft()
                taken.set()
                await send_event(event)
                continue
            if overflowed.is_set():
                return Ending.SLOW_CONSUMER
            if pump_ended.is_set():
                return Ending.FAILED if failed else Ending.COMPLETED
            arrived.clear()
            if heartbeat is None:
                await arrived.wait()
                continue
            try:
                await asyncio.wait_for(arrived.wait(), settings.heartbeat_s)
            except TimeoutError:
                await heartbeat()

    pumping = asyncio.create_task(pump())
    writing = asyncio.create_task(write())
    stops = {
        asyncio.create_task(overflowed.wait()): Ending.SLOW_CONSUMER,
        asyncio.create_task(shutdown.wait()): Ending.SHUTDOWN,
    }
    if disconnected is not None:
        stops[asyncio.create_task(disconnected.wait())] = Ending.DISCONNECTED
    try:
        done, _ = await asyncio.wait({writing, *stops}, return_when=asyncio.FIRST_COMPLETED)
        if overflowed.is_set():  # wins over the other endings: the client must be told
            return Ending.SLOW_CONSUMER
        if writing in done:
            try:
                return writing.result()
            except Exception:  # the client's connection failed under a write
                return Ending.DISCONNECTED
        return next(ending for stop, ending in stops.items() if stop in done)
    finally:
        tasks = (writing, pumping, *stops)
        for task in tasks:
            task.cancel()
        try:
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            with contextlib.suppress(Exception):
                await stream.aclose()


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
