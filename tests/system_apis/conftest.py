"""Fixtures for the system API tests: the reference backends (via the sandbox plugin),
settings sized for tests (short timeouts, short breaker reset) and a webhook ingress."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from system_apis import (
    InvalidSignature,
    MalformedPayload,
    parse_heritage_push,
    parse_swiftparcel_webhook,
    parse_wms_webhook,
)
from system_apis.settings import BackendSettings

if TYPE_CHECKING:
    from tests.sandbox_processes import Sandbox


def pytest_configure(config: pytest.Config) -> None:
    """Load the sandbox plugin (`sandbox`, `clean_faults`) once, however the tests are run."""
    config.pluginmanager.import_plugin("tests.sandbox_processes")


def credential(sandbox: Sandbox, backend: str) -> str:
    """The demo credential of a backend's API, as the sandbox publishes it."""
    return {
        "erp": sandbox.ERP_KEY,
        "wms": sandbox.WMS_TOKEN,
        "tms": sandbox.TMS_KEY,
        "swiftparcel": sandbox.SWIFT_KEY,
        "roadline": sandbox.ROADLINE_KEY,
    }.get(backend, "")


def fast_settings(sandbox: Sandbox, backend: str, **overrides: Any) -> BackendSettings:
    """Settings for one sandbox backend with test-sized times; override what a test studies."""
    options: dict[str, Any] = {
        "name": backend,
        "url": sandbox.url(backend),
        "credential": credential(sandbox, backend),
        "timeout_s": 2.0,
        "max_retries": 2,
        "backoff_base_s": 0.01,
        "backoff_max_s": 0.05,
        "retry_after_max_s": 2.0,
        "breaker_failure_threshold": 5,
        "breaker_reset_s": 0.2,
        "max_concurrency": 8,
        "concurrency_wait_s": 0.5,
    }
    options.update(overrides)
    return BackendSettings(**options)


@dataclass
class Ingress:
    """A minimal webhook ingress on loopback that runs the inbound parsers as the real one will:
    401 for a bad signature (nothing kept), 400 for a malformed body (kept as a dead letter),
    204 when accepted."""

    secrets: dict[str, str]
    base_url: str = ""
    accepted: dict[str, list[Any]] = field(default_factory=dict)
    dead_letters: dict[str, list[str]] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return f"{self.base_url}/hooks/{name}"

    def reset(self) -> None:
        self.accepted.clear()
        self.dead_letters.clear()
        self.refused.clear()

    async def wait_for(self, name: str, count: int, timeout: float = 5.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        while len(self.accepted.get(name, [])) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return self.accepted.get(name, [])

    async def handle(self, request: Request) -> Response:
        name = request.path_params["name"]
        body = await request.body()
        parse = {
            "wms": lambda: [parse_wms_webhook(body, request.headers, self.secrets["wms"])],
            "swiftparcel": lambda: parse_swiftparcel_webhook(
                body, request.headers, self.secrets["swiftparcel"]
            ),
            "heritage": lambda: parse_heritage_push(
                body, request.headers, self.secrets["heritage"]
            ),
        }[name]
        try:
            results = parse()
        except InvalidSignature:
            self.refused[name] = self.refused.get(name, 0) + 1
            return Response(status_code=401)
        except MalformedPayload as error:
            self.dead_letters.setdefault(name, []).append(error.reason)
            return Response(error.reason, status_code=400)
        self.accepted.setdefault(name, []).extend(results)
        return Response(status_code=204)


@pytest.fixture(scope="session")
async def ingress() -> AsyncIterator[Ingress]:
    receiver = Ingress(
        secrets={"wms": "wms-hook-secret", "swiftparcel": "swift-secret", "heritage": "edi-pw"}
    )
    app = Starlette(routes=[Route("/hooks/{name}", receiver.handle, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    receiver.base_url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    yield receiver
    server.should_exit = True
    await task
