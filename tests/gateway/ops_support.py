"""The product app with the ops dashboard, served by uvicorn on a loopback port, and what its
tests share: the clients, signing in, signed webhook deliveries and waiting for a snapshot.

The app is the real one (`gateway.app.create_app`, SQLite store in a temporary directory, no
polling, rate limits on): a browser and raw sockets reach it over real HTTP.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from federation.router.streaming import StreamShutdown
from gateway.app import create_app
from gateway.config import GatewayConfig
from stores.reconciliation import ReconciliationRun, SqlReconciliationStore, StockVariance
from stores.sql import open_engine
from stores.workflows import SqlWorkflowStore, WorkflowRecord, WorkflowState
from tests.federation.streams import serving
from tests.security.signed_webhooks import SECRETS, signed

KEYS = {
    "operations": "ops-admin-key-of-c1001-0123456789",
    "operations-c1002": "ops-admin-key-of-c1002-0123456789",
    "portal": "portal-reader-key-0123456789",
}
SNAPSHOT_WAIT_S = 20.0


def _client(tenant: str, key: str, scopes: list[str], **more: object) -> dict[str, object]:
    digest = hashlib.sha256(key.encode()).hexdigest()
    return {"tenant": tenant, "api_key_sha256": digest, "scopes": scopes, **more}


def ops_config(directory: Path, **ops: object) -> GatewayConfig:
    """Rate limits on (the suite turns them off by default): the portal may send 3 requests
    a minute, an address may fail to authenticate 20 times a minute."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("LG_THROTTLING__ENABLED", raising=False)
        return GatewayConfig.model_validate(
            {
                "stores": {"database_url": f"sqlite+aiosqlite:///{directory / 'gw.sqlite3'}"},
                "polling": {"enabled": False},
                "webhooks": {
                    "wms_secret": SECRETS["wms"],
                    "swiftparcel_secret": SECRETS["swiftparcel"],
                    "heritage_password": SECRETS["heritage"],
                },
                "clients": {
                    "operations": _client("C-1001", KEYS["operations"], ["read", "admin"]),
                    "operations-c1002": _client(
                        "C-1002", KEYS["operations-c1002"], ["read", "admin"]
                    ),
                    "portal": _client("C-1001", KEYS["portal"], ["read"], rate_limits=["3/minute"]),
                },
                "throttling": {"unauthenticated_failures": ["20/minute"]},
                "ops": {
                    "refresh_s": 0.25,
                    "send_timeout_s": 1.0,
                    "max_streams": 3,
                    **ops,
                },
            }
        )


@dataclass
class ServedOps:
    url: str
    app: Any

    def admin(self, client: str = "operations") -> dict[str, str]:
        return {"X-API-Key": KEYS[client]}

    def origin(self) -> dict[str, str]:
        return {"Origin": self.url}

    @contextmanager
    def signed_in(self, client: str = "operations") -> Iterator[httpx.Client]:
        """A client holding a session cookie, as a browser would after the form."""
        with httpx.Client(base_url=self.url, timeout=10.0) as http:
            answer = http.post(
                "/ops/session", data={"api_key": KEYS[client]}, headers=self.origin()
            )
            assert answer.status_code == 303, answer.text
            yield http

    def csrf_token(self, http: httpx.Client) -> str:
        page = http.get("/ops")
        assert page.status_code == 200, page.text
        marker = '<meta name="ops-csrf" content="'
        start = page.text.index(marker) + len(marker)
        return page.text[start : page.text.index('"', start)]

    def snapshot(self, until: Callable[[dict[str, Any]], bool] = bool) -> dict[str, Any]:
        """The snapshot once `until` holds (it is rebuilt every refresh), or the last one."""
        deadline = time.monotonic() + SNAPSHOT_WAIT_S
        while True:
            answer = httpx.get(f"{self.url}/ops/snapshot", headers=self.admin(), timeout=10.0)
            assert answer.status_code == 200, answer.text
            current = answer.json()
            if until(current) or time.monotonic() > deadline:
                return current
            time.sleep(0.1)

    def deliver(self, source: str, body: bytes) -> httpx.Response:
        return httpx.post(
            f"{self.url}/webhooks/{source}", content=body, headers=signed(source, body)
        )


@contextmanager
def served_ops(directory: Path, **ops: object) -> Iterator[ServedOps]:
    shutdown = StreamShutdown()
    app = create_app(ops_config(directory, **ops), shutdown=shutdown)
    with serving(app, shutdown, drain_s=2.0) as served:
        yield ServedOps(url=f"http://127.0.0.1:{served.port}", app=app)


def wms_event(event_type: str = "shipment.dispatched", *, occurred_ago_s: float = 0.0) -> bytes:
    """A WMS delivery; an unknown `event_type` makes it a dead letter (422)."""
    occurred = datetime.now(UTC) - timedelta(seconds=occurred_ago_s)
    return json.dumps(
        {
            "type": event_type,
            "event_id": uuid.uuid4().hex,
            "occurred_at": occurred.isoformat(),
            "data": {
                "order_ref": "SO-1",
                "tracking_number": f"T{uuid.uuid4().hex[:12]}",
                "carrier": "SWFT",
            },
        }
    ).encode()


def _in_the_database(directory: Path, write: Callable[[Any], Awaitable[None]]) -> None:
    """`write(engine)` on the served app's database, as another process of it would."""

    async def run() -> None:
        engine = open_engine(f"sqlite+aiosqlite:///{directory / 'gw.sqlite3'}")
        try:
            await write(engine)
        finally:
            await engine.dispose()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, run()).result()


def record_stuck_workflow(directory: Path, subject: str, tenant: str) -> str:
    """An order-to-ship workflow that has not moved for two hours (stuck past the default
    `[metrics] stuck_workflow_after_s`), written by the workflow store; its id."""
    then = datetime.now(UTC) - timedelta(hours=2)
    record = WorkflowRecord(
        workflow_id=f"order-to-ship.{subject}",
        kind="order-to-ship",
        subject=subject,
        tenant_id=tenant,
        state=WorkflowState.WAITING,
        inputs={"order_id": subject},
        reason="the ERP did not answer",
        attempts=4,
        next_attempt_at=then,
        version=3,
        run=1,
        correlation_id=uuid.uuid4().hex,
        created_at=then,
        updated_at=then,
    )

    async def write(engine: Any) -> None:
        await SqlWorkflowStore(engine).create(record)

    _in_the_database(directory, write)
    return record.workflow_id


def record_reconciliation(directory: Path, variances: list[tuple[str, str, str, str]]) -> str:
    """A reconciliation run with these (warehouse, sku, erp, wms) variances, written by the
    reconciliation store into the served app's database (as a run in any process would);
    its run id."""

    now = datetime.now(UTC)
    run = ReconciliationRun(
        run_id=f"rec-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}",
        started_at=now - timedelta(seconds=2),
        finished_at=now,
        compared=40,
        variances=len(variances),
    )
    rows = [
        StockVariance(warehouse, sku, "EA", Decimal(erp), Decimal(wms))
        for warehouse, sku, erp, wms in variances
    ]

    async def write(engine: Any) -> None:
        await SqlReconciliationStore(engine).record(run, rows)

    _in_the_database(directory, write)
    return run.run_id
