"""Shared fixtures: the real services on loopback (PostgreSQL, Redis, NATS JetStream).

A service that does not answer is a skip on a developer's machine and a failure in CI
(CI=true), so a green CI run always means the tests ran against the real engines.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

pytest_plugins = ["tests.sandbox_processes"]

os.environ.setdefault("LG_THROTTLING__ENABLED", "false")
"""Rate limits are off in every gateway the tests build or start (the variable reaches their
processes too), so tests that send bursts or bad keys on purpose are not throttled by the demo
plans; the throttling tests turn them on (`tests.throttling.throttled_environment`)."""

POSTGRES_ADMIN_URL = os.environ.get(
    "LG_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("LG_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
NATS_URL = os.environ.get("LG_TEST_NATS_URL", "nats://127.0.0.1:4222")


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    if _answers(host, port):
        return
    message = f"{name} does not answer on {host}:{port}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: the real service is required)")
    pytest.skip(message)


def _run_apart(coroutine) -> None:
    """Run admin SQL on a loop of its own, so sync fixtures can be used from async ones."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coroutine).result()


async def _admin(statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A PostgreSQL database of its own (an asyncpg URL), dropped on exit: for tests whose
    processes fill the event log that tests sharing `postgres_url` read whole."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    name = f"lg_test_{uuid.uuid4().hex[:12]}"
    _run_apart(_admin(f'CREATE DATABASE "{name}"'))
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        _run_apart(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> str:
    require_service("Redis", "127.0.0.1", 6379)
    return REDIS_URL


@pytest.fixture(scope="session")
def nats_url() -> str:
    require_service("NATS", "127.0.0.1", 4222)
    return NATS_URL
