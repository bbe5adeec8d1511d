"""Helpers for the subscription transports' tests: a scripted event source and a server.

The source stands in for ``Router.subscribe`` with its exact signature, so the transports
are tested against the boundary they are built on; the server is uvicorn on a loopback
port in a thread, so real clients (``websockets``, httpx) speak the real protocols.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from federation.router.errors import OperationError
from federation.router.headers import NOTHING_FORWARDED, Forwarded
from federation.router.streaming import ShutdownServer, StreamShutdown
from tests.federation.conftest import free_port


@dataclass(frozen=True)
class ScriptedEvent:
    payload: dict[str, Any]
    event_id: str | None


@dataclass
class SubscribeCall:
    query: str
    variables: Mapping[str, Any] | None
    operation_name: str | None
    context: Any
    forwarded: Forwarded
    options: Any
    last_event_id: str | None
    sharing_key: str | None


@dataclass
class ScriptedSource:
    """``subscribe`` as the router offers it, scripted by the subscription's variables:

    ``count`` events (ids 1, 2, … after ``last_event_id``), then the end, unless ``hold``
    (the stream stays open after them); ``size`` pads each payload; ``refuse`` answers a
    GraphQL error response instead of a stream, ``invalid`` raises the router's
    ``OperationError``; ``fail`` raises after the events.
    """

    calls: list[SubscribeCall] = field(default_factory=list)
    closed: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    started: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))

    async def __call__(
        self,
        query: str,
        variables: Mapping[str, Any] | None,
        operation_name: str | None,
        *,
        context: Any = None,
        forwarded: Forwarded = NOTHING_FORWARDED,
        options: Any = None,
        last_event_id: str | None = None,
        sharing_key: str | None = None,
    ) -> dict[str, Any] | AsyncIterator[ScriptedEvent]:
        self.calls.append(
            SubscribeCall(
                query,
                variables,
                operation_name,
                context,
                forwarded,
                options,
                last_event_id,
                sharing_key,
            )
        )
        script = dict(variables or {})
        if script.get("invalid"):
            raise OperationError([{"message": "Variable $id is missing."}], kind="variables")
        if script.get("refuse"):
            return {"errors": [{"message": "No such shipment.", "extensions": {"code": "NOPE"}}]}
        return self._events(script, int(last_event_id or 0))

    async def _events(self, script: dict[str, Any], after: int) -> AsyncIterator[ScriptedEvent]:
        import asyncio

        self.started.release()
        padding = "x" * int(script.get("size", 0))
        try:
            for number in range(after + 1, after + 1 + int(script.get("count", 3))):
                payload: dict[str, Any] = {"data": {"tick": number}}
                if padding:
                    payload["data"]["padding"] = padding
                yield ScriptedEvent(payload, str(number))
            if script.get("fail"):
                raise RuntimeError("secret internal detail at 10.0.0.7")
            if script.get("hold"):
                await asyncio.sleep(60)
        finally:
            self.closed.release()

    def wait_closed(self, timeout_s: float = 5.0) -> bool:
        return self.closed.acquire(timeout=timeout_s)

    def wait_started(self, timeout_s: float = 5.0) -> bool:
        return self.started.acquire(timeout=timeout_s)


@dataclass(frozen=True)
class Served:
    port: int
    shutdown: StreamShutdown
    server: ShutdownServer

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"


@contextmanager
def serving(app: Any, shutdown: StreamShutdown, *, drain_s: float = 5.0) -> Iterator[Served]:
    """``app`` behind uvicorn on a loopback port, in a thread; stopped (gracefully) on exit."""

    class _Server(ShutdownServer):
        def install_signal_handlers(self) -> None:  # running in a thread
            return None

    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="error", ws_max_size=1 << 20
    )
    server = _Server(config, shutdown, drain_s=drain_s)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("streaming test server did not start")
        time.sleep(0.02)
    try:
        yield Served(port, shutdown, server)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
