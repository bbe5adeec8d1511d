"""Pushed events: WMS and SwiftParcel signatures, Heritage basic auth, retries, faults."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid

import httpx
import pytest

from tests.sandbox.conftest import Receiver
from tests.sandbox.helpers import parse_interchanges
from tests.sandbox_processes import Sandbox

pytestmark = pytest.mark.sandbox
SECRET = "s3cret"


def _open_tasks(sandbox: Sandbox, count: int) -> list[dict]:
    response = httpx.get(
        f"{sandbox.wms}/v2/tasks",
        params={"state": "open", "type": "PACK", "limit": count},
        headers=sandbox.headers("wms"),
    )
    return response.json()["data"]


def _wms_signature_ok(headers: dict[str, str], body: bytes) -> bool:
    signed = headers["x-wms-timestamp"].encode() + b"." + body
    expected = "sha256=" + hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["x-wms-signature"])


async def test_wms_adjustment_is_applied_once_and_pushed_signed(
    hooks: Receiver, sandbox: Sandbox
) -> None:
    await sandbox.aset_webhook("wms", hooks.url("wms"), SECRET)
    body = {
        "warehouse": "WH-AMS",
        "bin": "Z-99-01",
        "sku": "MAT-0012",
        "delta": 5,
        "reason": "FOUND",
    }
    headers = {"Idempotency-Key": uuid.uuid4().hex, **sandbox.headers("wms")}
    async with httpx.AsyncClient() as client:
        first = await client.post(f"{sandbox.wms}/v2/adjustments", json=body, headers=headers)
        again = await client.post(f"{sandbox.wms}/v2/adjustments", json=body, headers=headers)
        stock = await client.get(
            f"{sandbox.wms}/v2/inventory",
            params={"warehouse": "WH-AMS", "bin": "Z-99-01", "sku": "MAT-0012"},
            headers=sandbox.headers("wms"),
        )
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    assert stock.json()["data"][0]["on_hand"] == 5
    received = await hooks.wait_for("wms", 1)
    assert len(received) == 1
    request = received[0]
    assert request.headers["x-wms-event"] == "inventory.adjusted"
    assert _wms_signature_ok(request.headers, request.body)
    event = json.loads(request.body)
    assert event["type"] == "inventory.adjusted" and event["data"]["delta"] == 5
    assert event["event_id"].startswith("evt_") and event["occurred_at"].endswith("Z")


async def test_wms_task_confirmation_is_idempotent(hooks: Receiver, sandbox: Sandbox) -> None:
    task = _open_tasks(sandbox, 1)[0]
    url = f"{sandbox.wms}/v2/tasks/{task['task_id']}/confirm"
    headers = {"Idempotency-Key": uuid.uuid4().hex, **sandbox.headers("wms")}
    async with httpx.AsyncClient() as client:
        first = await client.post(
            url, json={"qty": task["qty"], "operator": "ann"}, headers=headers
        )
        again = await client.post(
            url, json={"qty": task["qty"], "operator": "ann"}, headers=headers
        )
        headers["Idempotency-Key"] = uuid.uuid4().hex
        conflict = await client.post(url, json={"qty": task["qty"]}, headers=headers)
    assert (first.status_code, again.status_code, conflict.status_code) == (200, 200, 409)
    assert first.json() == again.json() and first.json()["state"] == "done"


async def test_failed_delivery_is_retried_with_the_same_delivery_id(
    hooks: Receiver, sandbox: Sandbox
) -> None:
    await sandbox.aset_webhook("wms", hooks.url("wms"), SECRET)
    await sandbox.aclear_deliveries("wms")
    hooks.fail_next = 2
    task = _open_tasks(sandbox, 1)[0]
    await sandbox.aemit("wms", task["task_id"], "task.completed")
    received = hooks.on("wms")
    assert len(received) == 3
    assert len({r.headers["x-wms-delivery"] for r in received}) == 1
    attempts = [d["status_code"] for d in await sandbox.adeliveries("wms")]
    assert attempts == [500, 500, 204]


async def test_duplicate_rate_resends_with_the_same_delivery_id(
    hooks: Receiver, sandbox: Sandbox
) -> None:
    await sandbox.aset_webhook("wms", hooks.url("wms"), SECRET)
    await sandbox.aset_faults("wms", duplicate_rate=1.0)
    task = _open_tasks(sandbox, 1)[0]
    await sandbox.aemit("wms", task["task_id"], "task.completed")
    received = hooks.on("wms")
    assert len(received) == 2
    assert received[0].headers["x-wms-delivery"] == received[1].headers["x-wms-delivery"]
    assert received[0].body == received[1].body


async def test_out_of_order_sends_each_event_after_the_next(
    hooks: Receiver, sandbox: Sandbox
) -> None:
    await sandbox.aset_webhook("wms", hooks.url("wms"), SECRET)
    await sandbox.aset_faults("wms", out_of_order=True)
    first, second = _open_tasks(sandbox, 2)
    await sandbox.aemit("wms", first["task_id"], "task.completed")
    assert hooks.on("wms") == [], "the first event is held back"
    await sandbox.aemit("wms", second["task_id"], "task.completed")
    order = [json.loads(r.body)["data"]["task_id"] for r in hooks.on("wms")]
    assert order == [second["task_id"], first["task_id"]]


async def test_swiftparcel_pushes_signed_json_and_tracks_it(
    hooks: Receiver, sandbox: Sandbox
) -> None:
    await sandbox.aset_webhook("swiftparcel", hooks.url("swift"), SECRET)
    events = await sandbox.aemit(
        "swiftparcel", "SP1234567890", "EX", "2026-11-20T14:03:00Z", reason="ADDRESS_INVALID"
    )
    request = hooks.on("swift")[0]
    expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-swift-signature"] == expected
    body = json.loads(request.body)
    assert body == events[0]
    assert body["trackingNumber"] == "SP1234567890"
    assert body["event"]["code"] == "EX" and body["event"]["reason"] == "ADDRESS_INVALID"
    async with httpx.AsyncClient() as client:
        tracked = await client.get(
            f"{sandbox.swiftparcel}/v1/track/SP1234567890", headers=sandbox.headers("swiftparcel")
        )
    assert [e["code"] for e in tracked.json()["events"]] == ["EX"]


async def test_swiftparcel_advance_moves_a_shipment_on(hooks: Receiver, sandbox: Sandbox) -> None:
    await sandbox.aset_webhook("swiftparcel", hooks.url("swift"), SECRET)
    await sandbox.aemit("swiftparcel", "SP5550000001", "MR")
    events = await sandbox.aadvance("swiftparcel", "SP5550000001", steps=2)
    assert [e["event"]["code"] for e in events] == ["PU", "IT"]
    assert [json.loads(r.body)["event"]["code"] for r in hooks.on("swift")] == ["MR", "PU", "IT"]


async def test_heritage_pushes_x12_with_basic_auth(hooks: Receiver, sandbox: Sandbox) -> None:
    await sandbox.aset_webhook("heritage", hooks.url("heritage"), SECRET)
    await sandbox.aemit("heritage", "HF12345678", "X3")
    await sandbox.aemit("heritage", "HF12345678", "SD", reason="AJ")
    received = hooks.on("heritage")
    assert len(received) == 2
    credentials = base64.b64encode(f"heritage:{SECRET}".encode()).decode()
    assert all(r.headers["authorization"] == f"Basic {credentials}" for r in received)
    assert all(r.headers["content-type"] == "application/edi-x12" for r in received)
    interchange = parse_interchanges(received[1].body.decode())[0]
    at7 = next(s for s in interchange["segments"] if s[0] == "AT7")
    assert at7[1:3] == ["SD", "AJ"]
