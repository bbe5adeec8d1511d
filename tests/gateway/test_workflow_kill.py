"""A gateway killed (SIGKILL) in the middle of a workflow step resumes it on restart: the
workflow completes, nothing is lost, and no step's effect happens twice.

The dead gateway's runner lease expires (3 s here) and the restarted one takes it over. The
WMS applies the pick at once but answers late (`write_latency_ms`), so the gateway dies
after the warehouse picked and before it heard so: the worst moment. The restarted gateway
runs the step again under the same idempotency key, and the WMS answers the first pick.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.gateway.conftest import RunningGateway, gateway_process, write_config
from tests.sandbox_processes import Sandbox, free_port
from tests.shipped_orders import _erp, shipped_order

WAIT_S = 90.0
WORKFLOWS = """
[workflows]
enabled = true
retry_initial_s = 0.2
retry_max_s = 1.0
poll_s = 0.1
lease_ttl_s = 3.0
"""
MATERIAL = "MAT-0001"
QUANTITY = 3


async def shown(gateway: RunningGateway, workflow_id: str) -> dict[str, Any] | None:
    async with httpx.AsyncClient(timeout=10.0) as client:
        response = await client.get(
            f"{gateway.url}/admin/workflows/{workflow_id}",
            headers={"X-API-Key": gateway.api_key("ops")},
        )
    return response.json() if response.status_code == 200 else None


async def wait_until(
    gateway: RunningGateway, workflow_id: str, test: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_S
    current = None
    while time.monotonic() < deadline:
        current = await shown(gateway, workflow_id)
        if current is not None and test(current):
            return current
        await asyncio.sleep(0.05)
    raise AssertionError(f"{workflow_id} never got there: {current}")


def wms_task(sandbox: Sandbox, task_id: str) -> dict[str, Any]:
    return httpx.get(
        f"{sandbox.wms}/v2/tasks/{task_id}", headers=sandbox.headers("wms"), timeout=10
    ).json()


def step(view: dict[str, Any], name: str) -> dict[str, Any] | None:
    return {s["step"]: s for s in view["steps"]}.get(name)


async def on_hand(sandbox: Sandbox, warehouse: str, bin_code: str) -> int:
    async with httpx.AsyncClient(timeout=10.0) as client:
        answer = await client.get(
            f"{sandbox.wms}/v2/inventory",
            params={"sku": MATERIAL, "warehouse": warehouse, "bin": bin_code},
            headers=sandbox.headers("wms"),
        )
    return int(answer.json()["data"][0]["on_hand"])


def test_a_gateway_killed_mid_step_resumes_the_workflow_and_does_each_step_once(
    sandbox, tmp_path, clean_faults
):
    order = asyncio.run(shipped_order(sandbox, "C-1001", [(MATERIAL, QUANTITY)], shipped=False))
    doc_no = order["doc_no"]
    workflow_id = f"order-to-ship.{doc_no}"
    port = free_port()
    config = tmp_path / "gateway.toml"
    write_config(
        config,
        sandbox,
        port,
        tmp_path / "gateway.sqlite3",
        polling=False,
        extra=WORKFLOWS,
        backend_timeout_s=10.0,
    )
    sandbox.set_faults("wms", write_latency_ms=4000)
    with gateway_process(config, port) as first:
        started = httpx.post(
            f"{first.url}/admin/workflows",
            json={"kind": "order-to-ship", "subject": doc_no},
            headers={"X-API-Key": first.api_key("ops")},
            timeout=10.0,
        )
        assert started.status_code == 201, started.text
        picking = asyncio.run(
            wait_until(
                first, workflow_id, lambda v: (step(v, "pick") or {}).get("state") == "STARTED"
            )
        )
        release = step(picking, "release_to_warehouse")["result"]
        pick_task = next(t for t in release["tasks"] if t["type"] == "PICK")
        deadline = time.monotonic() + 10
        while wms_task(sandbox, pick_task["task_id"])["state"] != "done":
            assert time.monotonic() < deadline, "the WMS never applied the pick"
            time.sleep(0.05)
        # The WMS has applied the pick; its answer to the gateway is still seconds away.
        assert first.process is not None
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=10)
    sandbox.reset_faults("wms")

    task = wms_task(sandbox, pick_task["task_id"])
    warehouse, bin_code = task["warehouse"], task["bin"]
    picked_before_restart = asyncio.run(on_hand(sandbox, warehouse, bin_code))
    with gateway_process(config, port) as second:
        done = asyncio.run(
            wait_until(
                second,
                workflow_id,
                lambda v: v["workflow"]["state"] in ("COMPLETED", "FAILED", "HELD"),
            )
        )
    assert done["workflow"]["state"] == "COMPLETED", done
    steps = {s["step"]: s for s in done["steps"]}
    assert steps["pick"]["attempts"] == 2, "the interrupted step ran again after the restart"
    assert all(s["attempts"] == 1 for name, s in steps.items() if name != "pick"), steps
    assert asyncio.run(on_hand(sandbox, warehouse, bin_code)) == picked_before_restart, (
        "the pick the dead gateway started was not made a second time"
    )

    async def effects() -> tuple[list, list]:
        async with httpx.AsyncClient(timeout=10.0) as client:
            reservations = await _erp(
                client, sandbox, "GET", f"/api/v1/reservations?sales_doc={doc_no}"
            )
            bookings = await client.get(
                f"{sandbox.tms}/bookings",
                params={"order_ref": doc_no},
                headers=sandbox.headers("tms"),
            )
        return reservations["records"], bookings.json()["bookings"]

    reservations, bookings = asyncio.run(effects())
    assert [r["status"] for r in reservations] == ["CONSUMED"], "one reservation"
    assert len(bookings) == 1, "one booking"
