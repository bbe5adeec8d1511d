"""Closing every open subscription when the server stops, with each transport's own code.

A server stopping waits for open responses to finish, and a subscription never does, so
the server must first tell the streams: ``begin()`` (safe from any thread or a signal
handler), then ``drain()`` until they have closed (WebSocket 1001, SSE and multipart end
their stream). ``ShutdownServer`` does that before uvicorn's own shutdown, which would
otherwise wait forever for SSE and close WebSockets with 1012.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn


class StreamShutdown:
    """The server is closing: open streams end, new ones are refused."""

    def __init__(self) -> None:
        self._closing = asyncio.Event()
        self._open = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def closing(self) -> bool:
        return self._closing.is_set()

    async def wait(self) -> None:
        await self._closing.wait()

    def begin(self) -> None:
        """Start closing; callable from another thread once a stream has been tracked."""
        loop = self._loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is not None and running is not loop:
            loop.call_soon_threadsafe(self._closing.set)
        else:
            self._closing.set()

    @contextmanager
    def track(self) -> Iterator[None]:
        """Counts one open stream for ``drain``."""
        self._loop = asyncio.get_running_loop()
        self._open += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._open -= 1
            if self._open == 0:
                self._idle.set()

    @property
    def open_streams(self) -> int:
        return self._open

    async def drain(self, timeout_s: float) -> bool:
        """Begin closing and wait until every stream has closed; False if some outlived it."""
        self.begin()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            return False
        return True


class ShutdownServer(uvicorn.Server):
    """uvicorn, closing the app's subscriptions with their own codes before it stops."""

    def __init__(
        self, config: uvicorn.Config, shutdown: StreamShutdown, drain_s: float = 5.0
    ) -> None:
        super().__init__(config)
        self.stream_shutdown = shutdown
        self.drain_s = drain_s

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await self.stream_shutdown.drain(self.drain_s)
        await super().shutdown(sockets)
