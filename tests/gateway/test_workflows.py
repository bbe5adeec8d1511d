"""Workflows through a real gateway process in front of the reference backends: started by an
operator, run by the gateway's runner, watched live over the WebSocket (`workflowChanged`, the
workflow's state resolved from the workflows subgraph per event), read per tenant with
`workflow(id)`, listed, shown and retried under `/admin/workflows`; and every new entry point
refusing anonymous callers, other tenants, oversized, malformed and expensive input."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest

from tests.gateway.conftest import (
    WEBHOOK_SECRETS,
    RunningGateway,
    gateway_process,
    write_config,
)
from tests.gateway.test_end_to_end import graphql, post_webhook, swift_body, swift_signature
from tests.gateway.test_live_over_websocket import opened, receive
from tests.sandbox_processes import Sandbox, free_port
from tests.shipped_orders import _erp, shipped_order

WAIT_S = 60.0
WORKFLOWS = """
[workflows]
enabled = true
retry_initial_s = 0.2
retry_max_s = 1.0
poll_s = 0.1
"""
WORKFLOW = """query($id: ID!) {
  workflow(id: $id) { id kind subject state reason steps { name state attempts error } }
}"""
CHANGES = """subscription($id: ID!) {
  workflowChanged(id: $id) { eventId state step workflow { id state kind } }
}"""


@pytest.fixture(scope="module")
def gateway(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    """A gateway running workflows, polling no feed: only what a test starts runs."""
    directory = tmp_path_factory.mktemp("workflows-gateway")
    port = free_port()
    config = directory / "gateway.toml"
    write_config(
        config,
        sandbox,
        port,
        directory / "gateway.sqlite3",
        polling=False,
        extra=WORKFLOWS,
        backend_timeout_s=5.0,
    )
    with gateway_process(config, port) as running:
        yield running


async def admin(
    gateway: RunningGateway,
    method: str,
    path: str,
    *,
    key: str | None = "ops",
    headers: dict[str, str] | None = None,
    **options: Any,
) -> httpx.Response:
    headers = dict(headers or {})
    if key is not None:
        headers["X-API-Key"] = gateway.api_key(key)
    async with httpx.AsyncClient(timeout=30.0) as client:
        return await client.request(method, f"{gateway.url}{path}", headers=headers, **options)


async def wait_for_state(
    gateway: RunningGateway, workflow_id: str, states: set[str], within_s: float = WAIT_S
) -> dict[str, Any]:
    deadline = time.monotonic() + within_s
    shown: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = await admin(gateway, "GET", f"/admin/workflows/{workflow_id}")
        assert response.status_code == 200, response.text
        shown = response.json()
        if shown["workflow"]["state"] in states:
            return shown
        await asyncio.sleep(0.1)
    raise AssertionError(f"{workflow_id} never reached {states}: {shown}")


async def start(gateway: RunningGateway, kind: str, subject: str) -> dict[str, Any]:
    response = await admin(
        gateway, "POST", "/admin/workflows", json={"kind": kind, "subject": subject}
    )
    assert response.status_code == 201, response.text
    return response.json()["workflow"]


async def test_an_order_ships_through_its_workflow_watched_live_and_read_by_its_tenant_only(
    gateway, sandbox
):
    order = await shipped_order(sandbox, "C-1001", [("MAT-0001", 1)], shipped=False)
    workflow_id = f"order-to-ship.{order['doc_no']}"
    socket = await opened(gateway, "C-1001")
    try:
        message = {
            "id": "1",
            "type": "subscribe",
            "payload": {"query": CHANGES, "variables": {"id": workflow_id}},
        }
        await socket.send(orjson.dumps(message).decode())
        await asyncio.sleep(0.5)  # the subscription registers before the workflow starts
        started = await start(gateway, "order-to-ship", order["doc_no"])
        assert started["id"] == workflow_id and started["state"] == "RUNNING"
        updates = []
        while not updates or updates[-1]["state"] != "COMPLETED":
            message = await receive(socket, WAIT_S)
            assert message["type"] == "next", message
            assert "errors" not in message["payload"], message
            updates.append(message["payload"]["data"]["workflowChanged"])
    finally:
        await socket.close()
    steps_seen = [u["step"] for u in updates if u["step"]]
    assert steps_seen[0] == "reserve_stock" and steps_seen[-1] == "goods_issue", (
        "an operator's start looks the order's customer up: it sees every change"
    )
    assert started["tenant_id"] == "C-1001"
    assert updates[-1]["workflow"] == {
        "id": workflow_id,
        "state": "COMPLETED",
        "kind": "order-to-ship",
    }
    ids = [int(u["eventId"]) for u in updates]
    assert ids == sorted(set(ids)), "each change once, in log order"

    mine = await graphql(gateway, WORKFLOW, {"id": workflow_id}, tenant="C-1001")
    workflow = mine["data"]["workflow"]
    assert workflow["state"] == "COMPLETED" and workflow["subject"] == order["doc_no"]
    assert [s["name"] for s in workflow["steps"]][:2] == ["reserve_stock", "release_to_warehouse"]
    assert all(s["state"] == "COMPLETED" for s in workflow["steps"])
    theirs = await graphql(gateway, WORKFLOW, {"id": workflow_id}, tenant="C-1002")
    assert theirs == {"data": {"workflow": None}}, "another tenant's workflow is not there"
    missing = await graphql(gateway, WORKFLOW, {"id": "order-to-ship.SO-0"}, tenant="C-1002")
    assert missing == theirs, "and looks exactly like one that does not exist"

    listed = await admin(gateway, "GET", "/admin/workflows?state=COMPLETED&kind=order-to-ship")
    assert workflow_id in [w["id"] for w in listed.json()["workflows"]]
    shown = (await admin(gateway, "GET", f"/admin/workflows/{workflow_id}")).json()
    label = {s["step"]: s for s in shown["steps"]}["label"]["result"]
    assert label["label"].startswith("^XA") and label["tracking_number"]
    refused = await admin(gateway, "POST", f"/admin/workflows/{workflow_id}/retry")
    assert refused.status_code == 409
    assert refused.json()["message"] == "a COMPLETED workflow cannot be retried"


async def test_a_carriers_proof_of_delivery_invoices_the_order_it_shipped(gateway, sandbox):
    """Order to ship, then the carrier's DELIVERED webhook: the gateway's log consumer starts
    ship-to-invoice for the shipment, and the invoice is posted, not before."""
    order = await shipped_order(sandbox, "C-1001", [("MAT-0001", 1)], shipped=False)
    shipped = await start(gateway, "order-to-ship", order["doc_no"])
    done = await wait_for_state(gateway, shipped["id"], {"COMPLETED", "FAILED", "HELD"})
    assert done["workflow"]["state"] == "COMPLETED", done
    tracking = {s["step"]: s for s in done["steps"]}["book"]["result"]["tracking_number"]
    async with httpx.AsyncClient(timeout=30.0) as client:
        before = await _erp(client, sandbox, "GET", f"/api/v1/invoices?sales_doc={order['doc_no']}")
    assert before["records"] == [], "no invoice before proof of delivery"
    body = swift_body(tracking, "DL", datetime.now(UTC), f"pod-{tracking}")
    headers = {"X-Swift-Signature": swift_signature(body), "content-type": "application/json"}
    accepted = await post_webhook(gateway, "swiftparcel", body, headers)
    assert accepted.status_code == 202, accepted.text
    invoicing_id = f"ship-to-invoice.{tracking}"
    deadline = time.monotonic() + WAIT_S
    while (await admin(gateway, "GET", f"/admin/workflows/{invoicing_id}")).status_code == 404:
        assert time.monotonic() < deadline, "the delivery started no invoicing"
        await asyncio.sleep(0.1)
    invoiced = await wait_for_state(gateway, invoicing_id, {"COMPLETED", "FAILED", "HELD"})
    assert invoiced["workflow"]["state"] == "COMPLETED", invoiced
    assert invoiced["workflow"]["tenant_id"] == "C-1001"
    invoice_id = {s["step"]: s for s in invoiced["steps"]}["post_invoice"]["result"]["invoice_id"]
    async with httpx.AsyncClient(timeout=30.0) as client:
        after = await _erp(client, sandbox, "GET", f"/api/v1/invoices?sales_doc={order['doc_no']}")
    assert [i["inv_no"] for i in after["records"]] == [invoice_id]


def wms_signed(body: bytes, event_type: str) -> dict[str, str]:
    stamp = str(int(time.time()))
    digest = hmac.new(
        WEBHOOK_SECRETS["wms"].encode(), stamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    return {
        "content-type": "application/json",
        "X-WMS-Event": event_type,
        "X-WMS-Timestamp": stamp,
        "X-WMS-Signature": f"sha256={digest}",
        "X-WMS-Delivery": uuid.uuid4().hex,
    }


async def test_a_return_is_restocked_and_credited_once_the_warehouse_reports_its_receipt(
    gateway, sandbox
):
    order = await shipped_order(sandbox, "C-1002", [("MAT-0001", 2)])
    async with httpx.AsyncClient(timeout=30.0) as client:
        rma = await _erp(
            client,
            sandbox,
            "POST",
            "/api/v1/return-orders",
            {
                "ref_doc": order["doc_no"],
                "sold_to": "C-1002",
                "items": [{"ref_pos": 10, "qty": 1, "reason_code": "NND"}],
            },
        )
    started = await start(gateway, "return-to-restock", rma["rma_no"])
    assert started["tenant_id"] == "C-1002"
    waiting = await wait_for_state(gateway, started["id"], {"WAITING"})
    assert waiting["workflow"]["reason"] == "awaiting the goods at the warehouse"
    async with httpx.AsyncClient(timeout=30.0) as client:
        received = await client.post(
            f"{sandbox.wms}/v2/returns",
            json={
                "rma_ref": rma["rma_no"],
                "owner": "C-1002",
                "warehouse": rma["plant"],
                "lines": [{"sku": "MAT-0001", "qty": 1, "condition": "sellable"}],
            },
            headers=sandbox.headers("wms"),
        )
        assert received.status_code == 201, received.text
        receipt = received.json()
        receipt |= {  # as the WMS pushes it on receipt: before inspection
            "state": "received",
            "inspected_at": None,
            "lines": [line | {"condition": None, "bin": None} for line in receipt["lines"]],
        }
        body = orjson.dumps(
            {
                "event_id": f"evt_{uuid.uuid4().hex[:24]}",
                "type": "return.received",
                "occurred_at": datetime.now(UTC).isoformat(),
                "warehouse": rma["plant"],
                "data": receipt,
            }
        )
        pushed = await client.post(
            gateway.webhook_url("wms"), content=body, headers=wms_signed(body, "return.received")
        )
        assert pushed.status_code == 202, pushed.text
    done = await wait_for_state(gateway, started["id"], {"COMPLETED", "FAILED", "HELD"})
    assert done["workflow"]["state"] == "COMPLETED", done
    steps = {s["step"]: s for s in done["steps"]}
    assert [line["quantity"] for line in steps["restock_or_write_off"]["result"]["restocked"]] == [
        "1"
    ]
    note = steps["credit_note"]["result"]["credit_note_id"]
    mine = await graphql(gateway, WORKFLOW, {"id": started["id"]}, tenant="C-1002")
    assert mine["data"]["workflow"]["state"] == "COMPLETED"
    assert (await graphql(gateway, WORKFLOW, {"id": started["id"]}))["data"]["workflow"] is None
    async with httpx.AsyncClient(timeout=30.0) as client:
        notes = await _erp(client, sandbox, "GET", f"/api/v1/credit-notes?ref_doc={rma['rma_no']}")
    assert [n["cn_no"] for n in notes["records"]] == [note]


async def test_a_held_invoice_is_listed_with_its_reason_and_an_operator_retries_it(
    gateway, sandbox
):
    doc_no = (await shipped_order(sandbox, "C-1001", [("MAT-0001", 1)], shipped=False))["doc_no"]
    async with httpx.AsyncClient(timeout=30.0) as client:
        place = {"country": "NL", "postal_code": "1043 AP"}
        parcels = [{"weight_kg": 1.0, "length_cm": 40, "width_cm": 30, "height_cm": 30}]
        rated = await client.post(
            f"{sandbox.tms}/rates",
            json={"origin": place, "destination": place, "parcels": parcels},
            headers=sandbox.headers("tms"),
        )
        booking = (
            await client.post(
                f"{sandbox.tms}/tenders",
                json={"quote_id": rated.json()["quotes"][0]["quote_id"], "order_ref": doc_no},
                headers=sandbox.headers("tms"),
            )
        ).json()
        issue = {
            "carrier": booking["carrier"],
            "tracking": booking["tracking_number"],
            "freight_amount": "0.01",
            "currency": booking["currency"],
        }
        await _erp(client, sandbox, "POST", f"/api/v1/sales-orders/{doc_no}/goods-issue", issue)
    started = await start(gateway, "ship-to-invoice", booking["tracking_number"])
    held = await wait_for_state(gateway, started["id"], {"HELD", "COMPLETED", "FAILED"})
    assert held["workflow"]["state"] == "HELD"
    assert "0.01" in held["workflow"]["reason"] and booking["amount"] in held["workflow"]["reason"]
    listed = (
        await admin(gateway, "GET", "/admin/workflows?state=HELD&kind=ship-to-invoice")
    ).json()
    reasons = {w["id"]: w["reason"] for w in listed["workflows"]}
    assert reasons[started["id"]] == held["workflow"]["reason"]
    retried = await admin(gateway, "POST", f"/admin/workflows/{started['id']}/retry")
    assert retried.status_code == 200 and retried.json()["workflow"]["state"] == "RUNNING"
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        again = (await admin(gateway, "GET", f"/admin/workflows/{started['id']}")).json()
        check = {s["step"]: s for s in again["steps"]}["check_freight"]
        if again["workflow"]["state"] == "HELD" and check["attempts"] == 2:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"the retry did not check again: {again}")
    mine = await graphql(gateway, WORKFLOW, {"id": started["id"]}, tenant="C-1001")
    assert mine["data"]["workflow"]["state"] == "HELD"
    assert mine["data"]["workflow"]["reason"] == held["workflow"]["reason"]
    cancelled = await admin(gateway, "POST", f"/admin/workflows/{started['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["workflow"]["state"] == "COMPENSATING"
    ended = await wait_for_state(gateway, started["id"], {"FAILED"})
    assert ended["workflow"]["reason"] == "cancelled by an operator"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/admin/workflows?state=DONE", 400),
        ("/admin/workflows?kind=teleport", 400),
        ("/admin/workflows?limit=0", 400),
        ("/admin/workflows?limit=1000000000000", 400),
        ("/admin/workflows?limit=-5", 400),
        ("/admin/workflows?after=../../etc", 400),
        ("/admin/workflows?after=" + "a" * 5000, 400),
        ("/admin/workflows?sort=state", 400),
        ("/admin/workflows/" + "w" * 500, 400),
        ("/admin/workflows/order-to-ship.SO-nothing", 404),
    ],
)
async def test_admin_workflow_reads_refuse_malformed_and_oversized_input(gateway, path, status):
    response = await admin(gateway, "GET", path)
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "message"} and "Traceback" not in body["message"]


async def test_admin_workflow_routes_need_a_key_and_the_admin_scope(gateway):
    for method, path in (
        ("GET", "/admin/workflows"),
        ("GET", "/admin/workflows/order-to-ship.SO-1"),
        ("POST", "/admin/workflows/order-to-ship.SO-1/retry"),
        ("POST", "/admin/workflows/order-to-ship.SO-1/cancel"),
        ("POST", "/admin/workflows"),
    ):
        anonymous = await admin(gateway, method, path, key=None, json={})
        assert anonymous.status_code == 401, (method, path, anonymous.text)
        tenant = await admin(gateway, method, path, key="C-1002", json={})
        assert tenant.status_code == 403, (method, path, tenant.text)


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (b"{not json", 400, "JSON object"),
        (b"[1, 2]", 400, "JSON object"),
        (orjson.dumps({"kind": "teleport", "subject": "SO-1"}), 400, "kind must be one of"),
        (orjson.dumps({"kind": "order-to-ship", "subject": "../x"}), 400, "subject must be"),
        (orjson.dumps({"kind": "order-to-ship", "subject": "S" * 49}), 400, "subject must be"),
        (orjson.dumps({"kind": "order-to-ship", "subject": 5}), 400, "subject must be"),
        (b'{"kind": "order-to-ship", "subject": "' + b"x" * 10_000 + b'"}', 413, "at most"),
    ],
)
async def test_starting_a_workflow_refuses_malformed_and_oversized_bodies(
    gateway, body, status, says
):
    response = await admin(
        gateway,
        "POST",
        "/admin/workflows",
        content=body,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == status, response.text
    assert says in response.json()["message"]


async def test_only_a_held_or_failed_workflow_can_be_retried(gateway):
    missing = await admin(gateway, "POST", "/admin/workflows/order-to-ship.SO-none/retry")
    assert missing.status_code == 404
    for path, status in (
        ("/admin/workflows/order-to-ship.SO-none/cancel", 404),
        ("/admin/workflows/" + "w" * 500 + "/cancel", 400),
        ("/admin/workflows/bad%20id%21/cancel", 400),
    ):
        refused = await admin(gateway, "POST", path)
        assert refused.status_code == status, (path, refused.text)
    started = await start(gateway, "ship-to-invoice", "SP0000000000")
    failed = await wait_for_state(gateway, started["id"], {"FAILED", "COMPLETED", "HELD"})
    assert failed["workflow"]["state"] == "FAILED"
    assert failed["workflow"]["reason"] == "the TMS has no booking for SP0000000000"
    not_cancellable = await admin(gateway, "POST", f"/admin/workflows/{started['id']}/cancel")
    assert not_cancellable.status_code == 409
    assert "FAILED workflow cannot be cancelled" in not_cancellable.json()["message"]
    again = await start_again(gateway, "ship-to-invoice", "SP0000000000")
    assert again["id"] == started["id"], "starting twice finds the first"
    retried = await admin(gateway, "POST", f"/admin/workflows/{started['id']}/retry")
    assert retried.status_code == 200 and retried.json()["workflow"]["run"] == 2
    await wait_for_state(gateway, started["id"], {"FAILED"})
    completed_or_running = await admin(gateway, "GET", "/admin/workflows?state=COMPLETED&limit=1")
    assert completed_or_running.status_code == 200


async def start_again(gateway: RunningGateway, kind: str, subject: str) -> dict[str, Any]:
    response = await admin(
        gateway, "POST", "/admin/workflows", json={"kind": kind, "subject": subject}
    )
    assert response.status_code == 200, response.text
    return response.json()["workflow"]


@pytest.mark.parametrize(
    ("workflow_id", "code"),
    [
        ("../../etc/passwd", "BAD_USER_INPUT"),
        ("x" * 10_000, "BAD_USER_INPUT"),
        ("", "BAD_USER_INPUT"),
    ],
)
async def test_workflow_query_refuses_malformed_and_oversized_ids(gateway, workflow_id, code):
    answer = await graphql(gateway, WORKFLOW, {"id": workflow_id})
    assert answer["data"] == {"workflow": None}
    assert answer["errors"][0]["extensions"]["code"] == code


async def test_workflow_query_needs_a_key_and_refuses_an_expensive_document(gateway):
    async with httpx.AsyncClient(timeout=30.0) as client:
        anonymous = await client.post(
            gateway.graphql_url(), json={"query": WORKFLOW, "variables": {"id": "a"}}
        )
        assert anonymous.status_code == 401
        fields = " ".join(
            f'w{n}: workflow(id: "order-to-ship.SO-{n}") {{ id steps {{ name }} }}'
            for n in range(60)
        )
        expensive = await client.post(
            gateway.graphql_url(),
            json={"query": f"{{ {fields} }}"},
            headers={"X-API-Key": gateway.api_key("C-1001")},
        )
    answer = expensive.json()
    assert "data" not in answer, "refused before anything ran"
    assert {e["extensions"]["code"] for e in answer["errors"]} == {"OPERATION_LIMIT_EXCEEDED"}


async def test_watching_another_tenants_workflow_delivers_nothing_of_it(gateway, sandbox):
    order = await shipped_order(sandbox, "C-1001", [("MAT-0001", 1)], shipped=False)
    workflow_id = f"order-to-ship.{order['doc_no']}"
    socket = await opened(gateway, "C-1002")
    try:
        message = {
            "id": "1",
            "type": "subscribe",
            "payload": {"query": CHANGES, "variables": {"id": workflow_id}},
        }
        await socket.send(orjson.dumps(message).decode())
        await asyncio.sleep(0.5)
        await start(gateway, "order-to-ship", order["doc_no"])
        await wait_for_state(gateway, workflow_id, {"COMPLETED", "FAILED", "HELD"})
        with pytest.raises(TimeoutError):
            await receive(socket, 1.0)
    finally:
        await socket.close()


async def test_an_operator_runs_a_stock_reconciliation_and_pages_through_its_variances(gateway):
    ran = await admin(gateway, "POST", "/admin/reconciliation/runs")
    assert ran.status_code == 201, ran.text
    run = ran.json()["run"]
    assert run["compared"] > 0
    again = await admin(gateway, "POST", "/admin/reconciliation/runs")
    assert again.status_code == 429 and int(again.headers["retry-after"]) >= 1, (
        "a run reads both backends whole: not again at once"
    )
    runs = (await admin(gateway, "GET", "/admin/reconciliation/runs?limit=5")).json()["runs"]
    assert runs[0] == run
    seen, after = [], None
    for _ in range(run["variances"] + 1):
        query = f"run={run['id']}&limit=7" + (f"&after={after}" if after else "")
        page = (await admin(gateway, "GET", f"/admin/reconciliation/variances?{query}")).json()
        assert page["run"] == run
        seen += page["variances"]
        after = page["next"]
        if after is None:
            break
    assert len(seen) == run["variances"]
    for variance in seen:
        erp, wms = float(variance["erp_quantity"]), float(variance["wms_quantity"])
        assert float(variance["difference"]) == pytest.approx(wms - erp) and erp != wms
    latest = (await admin(gateway, "GET", "/admin/reconciliation/variances?limit=1")).json()
    assert latest["run"]["id"] == run["id"], "the latest run unless one is named"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/admin/reconciliation/runs?limit=0", 400),
        ("/admin/reconciliation/runs?limit=99999999999999999999", 400),
        ("/admin/reconciliation/runs?everything=1", 400),
        ("/admin/reconciliation/variances?run=../../x", 400),
        ("/admin/reconciliation/variances?run=" + "r" * 5000, 400),
        ("/admin/reconciliation/variances?run=rec-20260101T000000-00000000", 404),
        ("/admin/reconciliation/variances?after=WH-AMS", 400),
        ("/admin/reconciliation/variances?after=a:b:c", 400),
        ("/admin/reconciliation/variances?limit=501", 400),
    ],
)
async def test_reconciliation_reads_refuse_malformed_and_oversized_input(gateway, path, status):
    response = await admin(gateway, "GET", path)
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error", "message"}


async def test_reconciliation_routes_need_a_key_and_the_admin_scope(gateway):
    for method, path in (
        ("GET", "/admin/reconciliation/runs"),
        ("POST", "/admin/reconciliation/runs"),
        ("GET", "/admin/reconciliation/variances"),
    ):
        assert (await admin(gateway, method, path, key=None)).status_code == 401
        assert (await admin(gateway, method, path, key="C-1001")).status_code == 403
