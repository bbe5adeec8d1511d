"""Fixtures for the sandbox's own tests: the backends (via the plugin) and a webhook receiver."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def pytest_configure(config: pytest.Config) -> None:
    """Load the sandbox plugin when only this directory runs (a no-op once it is loaded)."""
    config.pluginmanager.import_plugin("tests.sandbox_processes")


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A tiny webhook endpoint on loopback that records every request it gets."""

    base_url: str = ""
    received: list[Received] = field(default_factory=list)
    fail_next: int = 0

    def url(self, name: str) -> str:
        return f"{self.base_url}/hooks/{name}"

    def on(self, name: str) -> list[Received]:
        return [r for r in self.received if r.path == f"/hooks/{name}"]

    def reset(self) -> None:
        self.received.clear()
        self.fail_next = 0

    async def wait_for(self, name: str, count: int, timeout: float = 5.0) -> list[Received]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.on(name)) < count and loop.time() < deadline:
            await asyncio.sleep(0.02)
        return self.on(name)

    async def handle(self, request: Request) -> Response:
        self.received.append(
            Received(request.url.path, dict(request.headers), await request.body())
        )
        if self.fail_next > 0:
            self.fail_next -= 1
            return Response(status_code=500)
        return Response(status_code=204)


@pytest.fixture(scope="session")
async def receiver() -> AsyncIterator[Receiver]:
    """One receiver for the session, served by uvicorn inside the test event loop."""
    receiver = Receiver()
    app = Starlette(routes=[Route("/hooks/{name}", receiver.handle, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    receiver.base_url = f"http://127.0.0.1:{port}"
    yield receiver
    server.should_exit = True
    await task


@pytest.fixture
def hooks(receiver: Receiver, clean_faults: object) -> Receiver:
    """The receiver emptied for this test, with faults switched off."""
    receiver.reset()
    return receiver
