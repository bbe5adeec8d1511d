"""A lean HTTP/1.1 client for one origin: keep-alive connections on asyncio, parsed by httptools.

Subgraph calls are the router's most frequent I/O and general clients spend far more CPU
per request than the exchange itself (request models, per-call pool scans, sniffing the
async library): measured on the bench, several times the rest of a request's work. This
client does only what a subgraph POST needs: one pre-rendered request head per origin,
a bounded pool of persistent connections handed over without scanning, and responses
framed (Content-Length or chunked) by httptools, the parser uvicorn uses.

Below this line are bytes: ``request(head_lines, body)`` returns the status code and the
body. No redirects, proxies, compression or HTTP/2; ``http://`` and ``https://`` only.
Failures raise ``ConnectionFailed``; the caller applies its own timeout.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from urllib.parse import urlsplit

import httptools


class ConnectionFailed(Exception):
    """The exchange did not complete: refused, reset, closed early or malformed."""


class _Connection(asyncio.Protocol):
    """One persistent connection; at most one exchange at a time."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.chunks: list[bytes] = []
        self.received = False
        self.closed = False
        self.reusable = True
        self.used = False
        self.reused = False
        self.headers_done = False
        self.framed = False

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(ConnectionFailed(f"malformed response: {error}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.headers_done and not self.framed and exc is None:
            # No Content-Length and not chunked: the body is what came before the close.
            self.reusable = False
            self.on_message_complete()
            return
        self._fail(ConnectionFailed("connection closed before the response ended"))

    # -- httptools callbacks ------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() in (b"content-length", b"transfer-encoding"):
            self.framed = True

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        self.reusable = self.parser.should_keep_alive()
        body = b"".join(self.chunks)
        self.chunks = []
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result((self.parser.get_status_code(), body))

    # -- use ----------------------------------------------------------------------------------

    def send(self, payload: bytes) -> asyncio.Future[tuple[int, bytes]]:
        """Write one request; the future resolves to (status, body)."""
        assert self.transport is not None
        waiter: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()
        self.waiter = waiter
        self.received = False
        self.headers_done = False
        self.framed = False
        self.reused = self.used
        self.used = True
        if self.closed or self.transport.is_closing():
            # Closed by the server while idle, after it was handed out.
            waiter.set_exception(ConnectionFailed("connection closed before the request"))
            return waiter
        self.transport.write(payload)
        return waiter

    def _fail(self, error: Exception) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class Http11Pool:
    """Persistent connections to one origin, at most ``max_connections`` at a time."""

    def __init__(self, url: str, *, max_connections: int = 100) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.host = parts.hostname
        self.tls = parts.scheme == "https"
        self.port = parts.port or (443 if self.tls else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        authority = f"[{self.host}]" if ":" in self.host else self.host
        if parts.port:
            authority += f":{parts.port}"
        self.request_line = f"POST {target} HTTP/1.1\r\nhost: {authority}\r\n".encode("latin-1")
        self.max_connections = max_connections
        self._idle: list[_Connection] = []
        self._open = 0
        self._waiting: deque[asyncio.Future[_Connection | None]] = deque()
        self._ssl: ssl.SSLContext | None = None

    async def request(
        self, head_lines: bytes, body: bytes, *, retry: bool = True
    ) -> tuple[int, bytes]:
        """POST ``body`` with the given header lines (each ending in CRLF)."""
        payload = b"%s%scontent-length: %d\r\n\r\n%s" % (
            self.request_line,
            head_lines,
            len(body),
            body,
        )
        connection = await self._acquire()
        try:
            outcome = await connection.send(payload)
        except ConnectionFailed:
            stale = connection.reused and not connection.received
            self._discard(connection)
            if not (retry and stale):
                raise
            # A kept-alive connection the server had just closed: once more on a new one.
            connection = await self._acquire(fresh=True)
            try:
                outcome = await connection.send(payload)
            except BaseException:
                self._discard(connection)
                raise
        except BaseException:
            self._discard(connection)  # cancelled mid-exchange: its state is unknown
            raise
        self._release(connection)
        return outcome

    async def _acquire(self, fresh: bool = False) -> _Connection:
        idle = self._idle
        while idle and not fresh:
            connection = idle.pop()
            if not connection.closed:
                return connection
            self._open -= 1
        if self._open < self.max_connections:
            self._open += 1
        else:
            waiter: asyncio.Future[_Connection | None] = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            try:
                handed = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    connection = waiter.result()
                    if connection is not None:
                        self._release(connection)
                    else:
                        self._free_slot()
                raise
            if handed is not None:
                return handed
            # None: a slot was handed over; open a connection in it.
        try:
            return await self._connect()
        except BaseException:
            self._free_slot()
            raise

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        if self.tls and self._ssl is None:
            self._ssl = ssl.create_default_context()
        try:
            _, connection = await loop.create_connection(
                _Connection,
                self.host,
                self.port,
                ssl=self._ssl if self.tls else None,
                server_hostname=self.host if self.tls else None,
            )
        except OSError as error:
            raise ConnectionFailed(f"cannot connect: {error}") from error
        return connection

    def _release(self, connection: _Connection) -> None:
        if connection.closed or not connection.reusable:
            self._discard(connection)
            return
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        self._idle.append(connection)

    def _discard(self, connection: _Connection) -> None:
        connection.close()
        self._free_slot()

    def _free_slot(self) -> None:
        """Give a connection slot to the first waiter, or back to the pool."""
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._open -= 1

    async def aclose(self) -> None:
        """Close every idle connection; busy ones close when their exchange ends."""
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()
        self._open -= len(idle)
