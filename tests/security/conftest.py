"""The product app as a caller meets it, in process: `create_app` over a real configuration
(SQLite store in a temporary directory, no polling), driven through Starlette's TestClient."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import GatewayConfig
from process_apis.consumers import runner_for
from process_apis.polling import ERP_ORDERS_FEED, build_pollers
from process_apis.projections import build_projections, catch_up

API_KEYS = {
    "portal": "key-for-the-portal-client",
    "operations": "key-for-the-operations-client",
}


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def client_settings(**overrides: object) -> dict[str, dict[str, object]]:
    """A reading portal client and an operations client with the admin scope."""
    settings: dict[str, dict[str, object]] = {
        "portal": {"tenant": "C-1001", "api_key_sha256": digest(API_KEYS["portal"])},
        "operations": {
            "tenant": "C-1001",
            "api_key_sha256": digest(API_KEYS["operations"]),
            "scopes": ["read", "admin"],
        },
    }
    for name, values in overrides.items():
        settings[name] = {**settings[name], **values}  # type: ignore[dict-item]
    return settings


def gateway_config(directory: Path, **values: object) -> GatewayConfig:
    values.setdefault("clients", client_settings())
    return GatewayConfig(
        stores={"database_url": f"sqlite+aiosqlite:///{directory / 'gateway.sqlite3'}"},
        polling={"enabled": False},
        **values,  # type: ignore[arg-type]
    )


@pytest.fixture
def open_gateway(tmp_path: Path) -> Iterator[object]:
    """Opens the app for a configuration; every client opened is closed after the test."""
    opened: list[TestClient] = []

    def open_(**values: object) -> TestClient:
        client = TestClient(create_app(gateway_config(tmp_path, **values)))
        client.__enter__()
        opened.append(client)
        return client

    yield open_
    for client in opened:
        client.__exit__(None, None, None)


def fill_orders_read_model(client: TestClient) -> None:
    """What a polling gateway does on its own, for an app that polls nothing: one round of the
    ERP's order feed, then every read model brought up to the end of the log."""
    runtime = client.app_state["runtime"]

    async def fill() -> None:
        pollers = build_pollers(runtime.clients, runtime.stores, runtime.services.recorder)
        (feed,) = [poller for poller in pollers if poller.source == ERP_ORDERS_FEED]
        await feed.poll_once()
        await catch_up(runner_for(runtime.stores), build_projections(runtime.stores))

    client.portal.call(fill)
