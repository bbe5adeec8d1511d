"""Fixtures for the process API tests: embedded stores in a temporary folder and clients of the
reference backends (via the sandbox plugin) with test-sized times."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from process_apis.consumers import runner_for
from process_apis.projections import build_projections, catch_up
from process_apis.tracking import MilestoneRecorder
from stores import Stores, open_stores
from system_apis import BackendSettings, SystemClients

if TYPE_CHECKING:
    from tests.sandbox_processes import Sandbox


def sandbox_settings(sandbox: Sandbox, backend: str) -> BackendSettings:
    """A sandbox backend with short timeouts and backoffs, so a fault costs milliseconds."""
    credentials = {
        "erp": sandbox.ERP_KEY,
        "wms": sandbox.WMS_TOKEN,
        "tms": sandbox.TMS_KEY,
        "swiftparcel": sandbox.SWIFT_KEY,
        "roadline": sandbox.ROADLINE_KEY,
    }
    return BackendSettings(
        name=backend,
        url=sandbox.url(backend),
        credential=credentials.get(backend, ""),
        timeout_s=2.0,
        max_retries=1,
        backoff_base_s=0.01,
        backoff_max_s=0.05,
        breaker_reset_s=0.2,
    )


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[Stores]:
    opened = await open_stores(f"sqlite+aiosqlite:///{tmp_path / 'gateway.sqlite3'}")
    yield opened
    await opened.close()


@pytest.fixture(params=["sql", "jetstream"])
def log_url(request: pytest.FixtureRequest) -> str:
    """Each event log engine in turn: the embedded SQL log and the real NATS JetStream."""
    return "sql" if request.param == "sql" else request.getfixturevalue("nats_url")


@pytest.fixture
def namespace() -> dict[str, str]:
    suffix = uuid.uuid4().hex[:10]
    return {"stream": f"PROJ_{suffix.upper()}", "subject_prefix": f"proj.{suffix}"}


async def open_deployment(path: Path, log_url: str, namespace: dict[str, str]) -> Stores:
    return await open_stores(f"sqlite+aiosqlite:///{path}", log_url, **namespace)


@pytest.fixture
async def logged_stores(
    tmp_path: Path, log_url: str, namespace: dict[str, str]
) -> AsyncIterator[Stores]:
    """Stores on each event log engine (`log_url`), the JetStream stream deleted after."""
    opened = await open_deployment(tmp_path / "gateway.sqlite3", log_url, namespace)
    yield opened
    inner = getattr(opened.event_log, "inner", opened.event_log)
    if hasattr(inner, "_js"):
        await inner._js.delete_stream(namespace["stream"])
    await opened.close()


@pytest.fixture
def recorder(stores: Stores) -> MilestoneRecorder:
    return MilestoneRecorder(event_log=stores.event_log)


async def project(stores: Stores) -> None:
    """Bring every read model up to the end of the log, here and now."""
    await catch_up(runner_for(stores), build_projections(stores))


@pytest.fixture
async def clients(sandbox: Sandbox) -> AsyncIterator[SystemClients]:
    names = ("erp", "wms", "tms", "swiftparcel", "roadline", "heritage")
    async with SystemClients.from_settings(
        **{name: sandbox_settings(sandbox, name) for name in names}
    ) as built:
        yield built
