"""Warehouse writes across gateway processes: two `logistics-gateway run` processes share one
PostgreSQL database (and, for the JetStream engine, one NATS) in front of the reference WMS,
which pushes its signed webhooks to the first of them.

A confirmation through one process comes back from the WMS as an event in the log, and a retry
of it through the other process gets the first answer; a duplicate arriving at the other process
while the command still runs is told to retry, and then gets the same answer.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from stores import SqlEventLog, open_engine
from stores.event_log import EventLog
from tests.conftest import fresh_postgres_database
from tests.gateway.conftest import WEBHOOK_SECRETS, RunningGateway, gateway_process, write_config
from tests.sandbox_processes import Sandbox, free_port

WAREHOUSE_KEY = "key-for-the-amsterdam-warehouse-app"

CONFIRM_PICK = """
mutation($task: String!, $key: String!) {
  confirmPick(taskId: $task, idempotencyKey: $key) {
    __typename
    ... on PickConfirmed { task { taskId state doneAt quantity } }
  }
}"""


def _clients() -> str:
    digest = hashlib.sha256(WAREHOUSE_KEY.encode()).hexdigest()
    return f"""
[clients.warehouse-ams]
tenant = "C-1001"
api_key_sha256 = "{digest}"
scopes = ["read", "warehouse"]
warehouses = ["WH-AMS"]

[idempotency]
wait_s = 0.2
"""


@pytest.fixture(scope="module", params=["sql", "jetstream"])
def engine_urls(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(database URL, event log URL) shared by both processes; a database of their own, since
    the WMS's events they log are no other test's business."""
    with fresh_postgres_database() as database:
        if request.param == "jetstream":
            yield database, request.getfixturevalue("nats_url")
        else:
            yield database, "sql"


@pytest.fixture(scope="module")
def gateways(
    sandbox: Sandbox, engine_urls: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningGateway, RunningGateway]]:
    database, event_log = engine_urls
    stores = f'database_url = "{database}"\nevent_log = "{event_log}"'
    with ExitStack() as stack:
        running = []
        for name in ("first", "second"):
            directory = tmp_path_factory.mktemp(f"warehouse-{name}")
            port = free_port()
            config = directory / "gateway.toml"
            write_config(
                config,
                sandbox,
                port,
                directory / "unused.sqlite3",
                polling=False,
                stores=stores,
                extra=_clients(),
                backend_timeout_s=8.0,
            )
            running.append(stack.enter_context(gateway_process(config, port)))
        sandbox.set_webhook("wms", running[0].webhook_url("wms"), WEBHOOK_SECRETS["wms"])
        try:
            yield running[0], running[1]
        finally:
            sandbox.set_webhook("wms", None)


async def confirm_pick(gateway: RunningGateway, task_id: str, key: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30.0) as client:
        response = await client.post(
            gateway.graphql_url(),
            json={"query": CONFIRM_PICK, "variables": {"task": task_id, "key": key}},
            headers={"X-API-Key": WAREHOUSE_KEY},
        )
    assert response.status_code == 200, response.text
    return response.json()


async def wms_get(sandbox: Sandbox, path: str, **params: Any) -> Any:
    async with httpx.AsyncClient(timeout=10.0, headers=sandbox.headers("wms")) as client:
        response = await client.get(f"{sandbox.wms}{path}", params=params)
    response.raise_for_status()
    return response.json()


async def stocked_open_pick(sandbox: Sandbox) -> dict[str, Any]:
    """An open WH-AMS pick task no other test took, its bin counted to qty + 5 units."""
    listing = await wms_get(sandbox, "/v2/tasks", warehouse="WH-AMS", state="open", type="PICK")
    task = listing["data"][len(listing["data"]) // 2]
    bin_stock = await on_hand(sandbox, task)
    async with httpx.AsyncClient(timeout=10.0) as client:
        response = await client.post(
            f"{sandbox.wms}/v2/adjustments",
            json={"warehouse": task["warehouse"], "bin": task["bin"], "sku": task["sku"],
                  "delta": task["qty"] + 5 - bin_stock, "reason": "COUNT"},
            headers={**sandbox.headers("wms"), "Idempotency-Key": uuid.uuid4().hex},
        )  # fmt: skip
    assert response.status_code in (200, 201), response.text
    return task


async def on_hand(sandbox: Sandbox, task: dict[str, Any]) -> int:
    data = (
        await wms_get(
            sandbox, "/v2/inventory", warehouse=task["warehouse"], bin=task["bin"], sku=task["sku"]
        )
    )["data"]
    return data[0]["on_hand"] if data else 0


async def confirmations_received(sandbox: Sandbox, task_id: str) -> int:
    return sum(
        1
        for request in await sandbox.arequests("wms")
        if request["method"] == "POST" and request["path"] == f"/v2/tasks/{task_id}/confirm"
    )


async def open_log(database: str, event_log: str) -> tuple[EventLog, AsyncEngine | None]:
    if event_log == "sql":
        engine = open_engine(database)
        return SqlEventLog(engine), engine
    from stores.jetstream import JetStreamEventLog

    return await JetStreamEventLog.connect(event_log), None


async def wait_for_completion_event(
    log: EventLog, task_id: str, timeout_s: float = 20.0
) -> dict[str, Any]:
    """The `task.completed` event of the task, read from the event log itself."""
    deadline = time.monotonic() + timeout_s
    position = 0
    while time.monotonic() < deadline:
        for _ in range(200):  # pages read per pass
            page = await log.read(after=position, limit=500)
            if not page:
                break
            position = page[-1].position
            for stored in page:
                envelope = stored.envelope
                if envelope.event_type == "task.completed" and envelope.aggregate_id == task_id:
                    return dict(envelope.payload)
        await asyncio.sleep(0.2)
    pytest.fail(f"no task.completed event of {task_id} reached the event log")


async def test_the_wms_event_reaches_the_log_and_a_retry_to_another_process_gets_the_first_answer(
    gateways: tuple[RunningGateway, RunningGateway],
    sandbox: Sandbox,
    engine_urls: tuple[str, str],
) -> None:
    first, second = gateways
    task = await stocked_open_pick(sandbox)
    before = await on_hand(sandbox, task)
    await sandbox.aclear_requests("wms")
    key = f"pick-{uuid.uuid4()}"

    answer = await confirm_pick(first, task["task_id"], key)
    assert answer["data"]["confirmPick"]["__typename"] == "PickConfirmed", answer

    log, engine = await open_log(*engine_urls)
    try:
        event = await wait_for_completion_event(log, task["task_id"])
    finally:
        await log.close()
        if engine is not None:
            await engine.dispose()
    assert event["state"] == "DONE" and event["warehouse_id"] == "WH-AMS"

    retried = await confirm_pick(second, task["task_id"], key)
    assert retried == answer, "the other process answers from the shared record"
    assert await confirmations_received(sandbox, task["task_id"]) == 1
    assert await on_hand(sandbox, task) == before - task["qty"]


async def test_a_duplicate_arriving_at_another_process_while_the_command_runs_is_told_to_retry(
    gateways: tuple[RunningGateway, RunningGateway], clean_faults: Sandbox
) -> None:
    sandbox = clean_faults
    first, second = gateways
    task = await stocked_open_pick(sandbox)
    before = await on_hand(sandbox, task)
    await sandbox.aclear_requests("wms")
    # The WMS applies the confirmation at once and answers 4 s later: the first process holds
    # the key all that time, and the duplicate (which waits 0.2 s) arrives meanwhile.
    await sandbox.aset_faults("wms", write_latency_ms=4000)
    key = f"race-{uuid.uuid4()}"
    running = asyncio.create_task(confirm_pick(first, task["task_id"], key))
    await wait_for_confirmation_at_the_wms(sandbox, task["task_id"])
    duplicate = await confirm_pick(second, task["task_id"], key)
    answer = await running
    await sandbox.areset_faults("wms")

    assert answer["data"]["confirmPick"]["__typename"] == "PickConfirmed", answer
    error = duplicate["errors"][0]
    assert error["extensions"]["code"] == "IDEMPOTENCY_KEY_IN_PROGRESS", duplicate
    assert "retry" in error["message"]
    for gateway in (first, second):
        assert await confirm_pick(gateway, task["task_id"], key) == answer
    assert await confirmations_received(sandbox, task["task_id"]) == 1
    assert await on_hand(sandbox, task) == before - task["qty"], "the stock was taken once"


async def wait_for_confirmation_at_the_wms(
    sandbox: Sandbox, task_id: str, timeout_s: float = 10.0
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await confirmations_received(sandbox, task_id):
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"the confirmation of {task_id} never reached the WMS")
