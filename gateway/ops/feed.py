"""The dashboard's live updates: one snapshot at a time, shared, pushed over SSE.

The snapshot is built at most once per `refresh_s`, by whichever dashboard asks first, and
only while someone watches: ten open dashboards cost the stores what one does. Each stream
holds nothing but the latest snapshot (shared bytes) and its own position, never a queue, so
a browser that stops reading cannot make the process keep a backlog for it: its write waits
(the server stops buffering at its high-water mark), and after `send_timeout_s` without
progress the stream is dropped. Streams per process are capped (`max_streams`, 503 beyond),
each ends when the session that opened it expires (the browser reconnects, and a lapsed
session meets the sign-in), and all end when the server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.types import Message, Receive, Scope, Send

from federation.router.streaming import StreamShutdown

logger = logging.getLogger(__name__)

RECONNECT_MS = 3000
"""What the browser's EventSource waits before reconnecting after a stream ends."""
CLOSING_GRACE_S = 1.0


@dataclass(frozen=True, slots=True)
class Snapshot:
    version: int
    built_at: float
    """A reading of the feed's (monotonic) clock."""
    body: bytes
    """The snapshot as JSON, encoded once for every reader."""


class SnapshotFeed:
    """The latest snapshot and the streams reading it (a class: it owns both)."""

    def __init__(
        self,
        build: Callable[[], Awaitable[dict[str, Any]]],
        *,
        refresh_s: float,
        max_streams: int,
        send_timeout_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._build = build
        self.refresh_s = refresh_s
        self.max_streams = max_streams
        self.send_timeout_s = send_timeout_s
        self._clock = clock
        self._lock = asyncio.Lock()
        self._latest: Snapshot | None = None
        self.open_streams = 0
        self.dropped_slow = 0

    def streams(self) -> dict[str, int]:
        return {
            "open": self.open_streams,
            "max": self.max_streams,
            "dropped_slow": self.dropped_slow,
        }

    async def current(self) -> Snapshot:
        """The latest snapshot, built now if it is `refresh_s` old (one build at a time)."""
        async with self._lock:
            latest = self._latest
            if latest is None or self._clock() - latest.built_at >= self.refresh_s:
                try:
                    body = orjson.dumps(await self._build())
                except Exception:
                    logger.exception("building the ops snapshot failed")
                    body = orjson.dumps({"unavailable": ["all"]})
                version = 1 if latest is None else latest.version + 1
                latest = self._latest = Snapshot(version, self._clock(), body)
            return latest

    async def after(self, version: int | None) -> Snapshot:
        """The first snapshot newer than `version`, waiting for the next refresh if need be."""
        while True:
            snapshot = await self.current()
            if snapshot.version != version:
                return snapshot
            wait_s = snapshot.built_at + self.refresh_s - self._clock()
            await asyncio.sleep(max(0.01, wait_s))

    def now(self) -> float:
        return self._clock()

    def full(self) -> bool:
        return self.open_streams >= self.max_streams


class SnapshotStream:
    """An ASGI response: the snapshots as server-sent events until `until` (a reading of
    the feed's clock), the client leaves, stops reading, or the server stops."""

    def __init__(
        self,
        feed: SnapshotFeed,
        shutdown: StreamShutdown,
        *,
        until: float,
        headers: list[tuple[bytes, bytes]],
    ) -> None:
        self.feed = feed
        self.shutdown = shutdown
        self.until = until
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        feed = self.feed
        feed.open_streams += 1
        disconnected = asyncio.Event()

        async def watch() -> None:
            while True:
                message: Message = await receive()
                if message["type"] == "http.disconnect":
                    disconnected.set()
                    return

        watcher = asyncio.create_task(watch())
        try:
            with self.shutdown.track():
                headers = [
                    (b"content-type", b"text/event-stream; charset=utf-8"),
                    (b"cache-control", b"no-store"),
                    (b"x-accel-buffering", b"no"),
                    *self.headers,
                ]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                if await self._write(send, f"retry: {RECONNECT_MS}\n\n".encode()):
                    await self._run(send, disconnected)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            send({"type": "http.response.body", "body": b"", "more_body": False}),
                            CLOSING_GRACE_S,
                        )
        except OSError:
            pass
        finally:
            feed.open_streams -= 1
            watcher.cancel()
            with contextlib.suppress(BaseException):
                await watcher

    async def _run(self, send: Send, disconnected: asyncio.Event) -> None:
        version: int | None = None
        while not disconnected.is_set() and not self.shutdown.closing:
            remaining_s = self.until - self.feed.now()
            if remaining_s <= 0:
                return
            snapshot = await _first(
                self.feed.after(version), disconnected, self.shutdown, remaining_s
            )
            if snapshot is None:
                return
            version = snapshot.version
            chunk = b"id: %d\nevent: snapshot\ndata: %s\n\n" % (version, snapshot.body)
            if not await self._write(send, chunk):
                return

    async def _write(self, send: Send, chunk: bytes) -> bool:
        """False when the client took nothing for `send_timeout_s`: it is dropped."""
        try:
            await asyncio.wait_for(
                send({"type": "http.response.body", "body": chunk, "more_body": True}),
                self.feed.send_timeout_s,
            )
        except TimeoutError:
            self.feed.dropped_slow += 1
            logger.info(
                "an ops dashboard took no update for %s s; disconnected", self.feed.send_timeout_s
            )
            return False
        return True


async def _first(
    wanted: Awaitable[Snapshot],
    disconnected: asyncio.Event,
    shutdown: StreamShutdown,
    timeout_s: float,
) -> Snapshot | None:
    """`wanted`'s snapshot, or None when the client left, the server stops or time ran out."""
    task = asyncio.ensure_future(wanted)
    stoppers = {asyncio.ensure_future(disconnected.wait()), asyncio.ensure_future(shutdown.wait())}
    try:
        await asyncio.wait(
            {task, *stoppers}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        for pending in (task, *stoppers):
            if not pending.done():
                pending.cancel()
    if task.done() and not task.cancelled() and task.exception() is None:
        return task.result()
    return None
