"""The gateway as its users meet it: `logistics-gateway run` as a process on a loopback port,
in front of the reference backends (themselves processes), with its own SQLite store."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.sandbox_processes import Sandbox, free_port

START_TIMEOUT_S = 90.0
"""Generous: a loaded 2-core machine takes tens of seconds to import and start a process."""
WEBHOOK_SECRETS = {
    "wms": "test-wms-secret",
    "swiftparcel": "test-swift-secret",
    "heritage": "test-heritage-password",
}
API_KEYS = {
    "C-1001": "key-for-customer-c1001",
    "C-1002": "key-for-customer-c1002",
    "ops": "key-for-operations",
    "warehouse": "key-for-the-amsterdam-warehouse-app",
}
READ_MODEL_WAIT_S = 60.0
"""How long the read models may take to catch up with what the gateway was just told (or, on
a fresh gateway, with its first reads of the backends' feeds)."""


@dataclass(frozen=True)
class RunningGateway:
    url: str
    log: Path
    process: subprocess.Popen[bytes] | None = None
    """The gateway's process, for tests that stop it the hard way."""

    def graphql_url(self) -> str:
        return f"{self.url}/graphql"

    def webhook_url(self, source: str) -> str:
        return f"{self.url}/webhooks/{source}"

    @staticmethod
    def api_key(tenant: str) -> str:
        return API_KEYS[tenant]


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def write_config(
    path: Path,
    sandbox: Sandbox,
    port: int,
    database: Path,
    *,
    polling: bool = True,
    stores: str | None = None,
    extra: str = "",
    backend_timeout_s: float = 1.0,
    poll_interval_s: float | None = None,
    lease_ttl_s: float = 30.0,
) -> None:
    """A configuration in front of `sandbox`; `stores` replaces the SQLite file's `[stores]`
    lines (to share PostgreSQL or JetStream between processes), `extra` adds sections,
    `poll_interval_s` replaces the feeds' polling interval, `lease_ttl_s` is how soon a
    restarted process takes over a killed one's feeds and projections."""
    stores = stores or f'database_url = "sqlite+aiosqlite:///{database}"'
    backends = "\n".join(
        f'[backends.{name}]\nurl = "{url}"\ntimeout_s = {backend_timeout_s}\nmax_retries = 1\n'
        f"breaker_failure_threshold = 3\nbreaker_reset_s = 0.5\n"
        for name, url in sandbox.urls().items()
    )
    path.write_text(
        f"""
[server]
host = "127.0.0.1"
port = {port}

[stores]
{stores}

[polling]
enabled = {"true" if polling else "false"}
erp_orders_interval_s = 1.0
lease_ttl_s = {lease_ttl_s}
{f"interval_s = {poll_interval_s}" if poll_interval_s else ""}

[webhooks]
wms_secret = "{WEBHOOK_SECRETS["wms"]}"
swiftparcel_secret = "{WEBHOOK_SECRETS["swiftparcel"]}"
heritage_password = "{WEBHOOK_SECRETS["heritage"]}"

[clients.portal-c1001]
tenant = "C-1001"
api_key_sha256 = "{_digest(API_KEYS["C-1001"])}"

[clients.portal-c1002]
tenant = "C-1002"
api_key_sha256 = "{_digest(API_KEYS["C-1002"])}"

[clients.operations]
tenant = "C-1001"
api_key_sha256 = "{_digest(API_KEYS["ops"])}"
scopes = ["read", "admin"]

[clients.warehouse-app]
tenant = "C-1001"
api_key_sha256 = "{_digest(API_KEYS["warehouse"])}"
scopes = ["read", "warehouse"]
warehouses = ["WH-AMS"]

{backends}
{extra}
"""
    )


@contextmanager
def running_gateway(
    sandbox: Sandbox, directory: Path, *, polling: bool = True
) -> Iterator[RunningGateway]:
    """`logistics-gateway run` on a free port in front of `sandbox`, stopped on exit; without
    `polling` it reads no feed (the backends then see only what callers cause)."""
    port = free_port()
    config = directory / "gateway.toml"
    write_config(config, sandbox, port, directory / "gateway.sqlite3", polling=polling)
    with gateway_process(config, port) as running:
        yield running


@contextmanager
def gateway_process(
    config: Path, port: int, arguments: Sequence[str] = ()
) -> Iterator[RunningGateway]:
    """`logistics-gateway run --config CONFIG [ARGUMENTS]` (listening on `port`) until healthy;
    stopped on exit. Its output goes to `gateway.log` beside the configuration."""
    log = config.parent / "gateway.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "run", "--config", str(config), *arguments],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    running = RunningGateway(url=f"http://127.0.0.1:{port}", log=log, process=process)
    try:
        _wait_healthy(running, process)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def gateway(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    with running_gateway(sandbox, tmp_path_factory.mktemp("gateway")) as running:
        yield running


def _wait_healthy(gateway: RunningGateway, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gateway exited at start:\n{gateway.log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{gateway.url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gateway not healthy in time:\n{gateway.log.read_text()[-3000:]}")


def wait_for_orders(
    graphql_url: str, api_key: str, *order_ids: str, at_least: int = 1
) -> list[str]:
    """The caller's newest order ids once the orders read model has caught up with the ERP
    (a poll round of its change log completed: `stale` is false) and lists `order_ids` (or,
    without them, `at_least` orders); the ERP's changes are polled each second in tests."""
    query = "query($first: Int!) { orders(first: $first) { orders { id stale } } }"
    deadline = time.monotonic() + READ_MODEL_WAIT_S
    while True:
        answer = httpx.post(
            graphql_url,
            json={"query": query, "variables": {"first": 100}},
            headers={"X-API-Key": api_key},
            timeout=30.0,
        ).json()
        orders = ((answer.get("data") or {}).get("orders") or {}).get("orders") or []
        listed = [order["id"] for order in orders]
        caught_up = bool(orders) and not orders[0]["stale"]
        done = caught_up and set(order_ids) <= set(listed) and len(listed) >= at_least
        if done or time.monotonic() > deadline:
            assert caught_up, f"the orders read model never caught up: {answer}"
            assert set(order_ids) <= set(listed), f"the read model never listed {order_ids}"
            assert len(listed) >= at_least, f"the read model lists {len(listed)} orders"
            return listed
        time.sleep(0.25)


STOCK = """query($sku: String!, $warehouse: String) {
    inventory(sku: $sku, warehouseId: $warehouse) {
        positions { warehouseId bin onHand allocated availableToPromise quarantined } } }"""


def stock_of(
    gateway: RunningGateway,
    sku: str,
    *,
    warehouse: str | None = None,
    until: Callable[[list[dict[str, Any]]], bool] = bool,
) -> list[dict[str, Any]]:
    """The SKU's positions as a portal reads them, once `until` holds (stock is answered from
    the inventory read model, which follows the WMS through the event log), or as they are
    when `READ_MODEL_WAIT_S` runs out."""
    deadline = time.monotonic() + READ_MODEL_WAIT_S
    while True:
        response = httpx.post(
            gateway.graphql_url(),
            json={"query": STOCK, "variables": {"sku": sku, "warehouse": warehouse}},
            headers={"X-API-Key": gateway.api_key("C-1001")},
            timeout=30.0,
        )
        assert response.status_code == 200, response.text
        answer = response.json()
        positions = (answer.get("data") or {}).get("inventory") or {"positions": []}
        if until(positions["positions"]) or time.monotonic() > deadline:
            assert "errors" not in answer, answer
            return positions["positions"]
        time.sleep(0.2)


POLLED_FEEDS = ("/api/status-updates", "/edi/outbox", "/api/v1/sales-order-changes")
"""The feeds every gateway with polling on reads on its own schedule (carriers, ERP orders)."""


def polled(backend: str, request: dict[str, str]) -> bool:
    """A read the pollers of any gateway on these backends make on their own schedule: the
    carrier feeds and the ERP's order changes; the TMS's booking listing, the new bookings'
    owners (an ERP listing by document numbers) and their SwiftParcel histories; the WMS's whole
    stock listing."""
    path, query = request["path"], request["query"]
    if path in POLLED_FEEDS or path.startswith("/v1/track/"):
        return True
    if backend == "wms" and path == "/v2/inventory":
        return "sku=" not in query
    if backend == "tms" and path == "/bookings":
        return "order_ref=" not in query and "tracking_number=" not in query
    return backend == "erp" and path == "/api/v1/sales-orders" and "doc_no=" in query


def callers_requests(sandbox: Sandbox, backend: str) -> list[dict[str, str]]:
    """The requests `backend` received that no poller made."""
    return [request for request in sandbox.requests(backend) if not polled(backend, request)]
