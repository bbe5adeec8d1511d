"""Fixtures for the system API tests: the reference backends (via the sandbox plugin) and
settings sized for tests (short timeouts, short breaker reset)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

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
