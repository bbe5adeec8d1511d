"""Fixtures for the process API tests: embedded stores in a temporary folder and clients of the
reference backends (via the sandbox plugin) with test-sized times."""

from __future__ import annotations

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
