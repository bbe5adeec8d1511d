"""The logistics workflows against the reference backends (real HTTP processes): order to ship
from a released order to its goods issue, a refused booking releasing the reservation, ship to
invoice after proof of delivery, a freight mismatch held, and invoicing that waits out the
ERP's maintenance window. Started by events on both event log engines."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from domain.events import EventEnvelope, SourceSystem
from process_apis.consumers import runner_for
from process_apis.workflows.engine import RetryPolicy
from process_apis.workflows.service import Workflows, build_workflows
from process_apis.workflows.triggers import WorkflowTriggers
from stores import Stores, open_stores
from stores.event_log import SignallingEventLog
from stores.workflows import StepState, WorkflowState
from system_apis import SystemClients
from tests.sandbox_processes import Sandbox
from tests.shipped_orders import _erp, shipped_order

pytestmark = pytest.mark.usefixtures("clean_faults")

MATERIAL = "MAT-0001"
SETTLED = (WorkflowState.COMPLETED, WorkflowState.FAILED, WorkflowState.HELD)


@pytest.fixture
def workflows(clients: SystemClients, stores: Stores) -> Workflows:
    return build_workflows(clients, stores, retry_policy=RetryPolicy(initial_s=0.05, max_s=0.2))


async def settle(
    workflows: Workflows, workflow_id: str, *, until=SETTLED, within_s: float = 30.0
) -> Any:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        record = await workflows.engine.advance(workflow_id)
        assert record is not None
        if record.state in until:
            return record
        await asyncio.sleep(0.05)
    raise AssertionError(f"{workflow_id} did not reach {until}: {record}")


async def released_order(sandbox: Sandbox, customer: str = "C-1001") -> dict[str, Any]:
    return await shipped_order(sandbox, customer, [(MATERIAL, 2)], shipped=False)


async def erp_get(sandbox: Sandbox, path: str) -> Any:
    async with httpx.AsyncClient(timeout=30.0) as client:
        return await _erp(client, sandbox, "GET", path)


async def wms_tasks(sandbox: Sandbox, order_id: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=30.0) as client:
        answer = await client.get(
            f"{sandbox.wms}/v2/tasks",
            params={"order_ref": order_id},
            headers=sandbox.headers("wms"),
        )
        return answer.json()["data"]


async def shipped_through_workflow(sandbox: Sandbox, workflows: Workflows) -> tuple[str, dict]:
    order = await released_order(sandbox)
    started, _ = await workflows.engine.start(
        "order-to-ship",
        order["doc_no"],
        {"order_id": order["doc_no"]},
        tenant_id=None,
        correlation_id="test",
    )
    done = await settle(workflows, started.workflow_id)
    assert done.state is WorkflowState.COMPLETED, done.reason
    view = await workflows.view(started.workflow_id)
    label = {s.step: s for s in view.steps}["label"].result
    return order["doc_no"], label


async def test_order_to_ship_reserves_picks_packs_books_labels_dispatches_and_issues_goods(
    sandbox, workflows, stores
):
    order = await released_order(sandbox)
    doc_no = order["doc_no"]
    started, created = await workflows.engine.start(
        "order-to-ship", doc_no, {"order_id": doc_no}, tenant_id=None, correlation_id="test"
    )
    assert created
    done = await settle(workflows, started.workflow_id)
    assert done.state is WorkflowState.COMPLETED, done.reason
    assert done.tenant_id == "C-1001", "the order's customer is the workflow's tenant"
    view = await workflows.view(started.workflow_id)
    steps = {s.step: s for s in view.steps}
    assert [s.step for s in view.steps] == [
        "reserve_stock",
        "release_to_warehouse",
        "pick",
        "pack",
        "rate",
        "book",
        "confirm_booking",
        "label",
        "dispatch",
        "goods_issue",
    ]
    assert all(s.state is StepState.COMPLETED and s.attempts == 1 for s in view.steps)
    tracking = steps["book"].result["tracking_number"]
    assert steps["label"].result["tracking_number"] == tracking
    assert (
        steps["label"].result["label"].startswith("^XA")
        and tracking in steps["label"].result["label"]
    )
    shipped = await erp_get(sandbox, f"/api/v1/sales-orders/{doc_no}")
    assert shipped["status"] == "SHIP"
    freight = await erp_get(sandbox, f"/api/v1/sales-orders/{doc_no}/freight")
    assert freight["tracking"] == tracking and freight["amount"] == steps["book"].result["amount"]
    reservations = await erp_get(sandbox, f"/api/v1/reservations?sales_doc={doc_no}")
    assert [r["status"] for r in reservations["records"]] == ["CONSUMED"]
    tasks = await wms_tasks(sandbox, doc_no)
    assert {t["type"] for t in tasks} == {"PICK", "PACK", "SHIP"}
    assert all(t["state"] == "done" for t in tasks)
    events = [
        e
        for e in await stores.event_log.read(after=0, limit=1000)
        if e.envelope.aggregate_id == started.workflow_id
    ]
    assert events[-1].envelope.payload["state"] == "COMPLETED"
    assert events[-1].envelope.tenant_id == "C-1001"
    assert events[-1].envelope.event_type == "workflow.changed"


async def test_a_refused_booking_releases_the_reservation(sandbox, workflows):
    order = await released_order(sandbox)
    doc_no = order["doc_no"]
    await sandbox.aset_faults("tms", error_rate=1.0, error_status=422)
    started, _ = await workflows.engine.start(
        "order-to-ship", doc_no, {"order_id": doc_no}, tenant_id="C-1001", correlation_id="t"
    )
    failed = await settle(workflows, started.workflow_id)
    await sandbox.areset_faults("tms")
    assert failed.state is WorkflowState.FAILED
    assert "tms rejected" in (failed.reason or "")
    steps = {s.step: s for s in (await workflows.view(started.workflow_id)).steps}
    assert steps["rate"].state is StepState.FAILED
    assert steps["compensate:reserve_stock"].state is StepState.COMPLETED
    reservations = await erp_get(sandbox, f"/api/v1/reservations?sales_doc={doc_no}")
    assert [r["status"] for r in reservations["records"]] == ["RELEASED"]
    assert (await erp_get(sandbox, f"/api/v1/sales-orders/{doc_no}"))["status"] == "REL"


async def test_ship_to_invoice_posts_the_invoice_only_after_proof_of_delivery(sandbox, workflows):
    doc_no, label = await shipped_through_workflow(sandbox, workflows)
    assert (await erp_get(sandbox, f"/api/v1/invoices?sales_doc={doc_no}"))["records"] == []
    tracking = label["tracking_number"]
    started, _ = await workflows.engine.start(
        "ship-to-invoice",
        tracking,
        {"tracking_number": tracking},
        tenant_id=None,
        correlation_id="t",
    )
    done = await settle(workflows, started.workflow_id)
    assert done.state is WorkflowState.COMPLETED, done.reason
    invoices = (await erp_get(sandbox, f"/api/v1/invoices?sales_doc={doc_no}"))["records"]
    assert len(invoices) == 1 and invoices[0]["freight"][0]["tracking"] == tracking
    steps = {s.step: s for s in (await workflows.view(started.workflow_id)).steps}
    assert steps["post_invoice"].result["invoice_id"] == invoices[0]["inv_no"]


async def test_a_freight_charge_off_the_booked_rate_holds_the_invoice_with_the_reason(
    sandbox, workflows
):
    """An order shipped by hand, its freight keyed wrong at goods issue (a clerk's typo)."""
    doc_no = (await released_order(sandbox))["doc_no"]
    async with httpx.AsyncClient(timeout=30.0) as client:
        tms = sandbox.headers("tms")
        place = {"country": "NL", "postal_code": "1043 AP"}
        parcels = [{"weight_kg": 2.0, "length_cm": 40, "width_cm": 30, "height_cm": 30}]
        rated = await client.post(
            f"{sandbox.tms}/rates",
            json={"origin": place, "destination": place, "parcels": parcels},
            headers=tms,
        )
        quote = rated.json()["quotes"][0]
        tendered = await client.post(
            f"{sandbox.tms}/tenders",
            json={"quote_id": quote["quote_id"], "order_ref": doc_no},
            headers=tms,
        )
        booked = tendered.json() | {"tracking_number": tendered.json()["tracking_number"]}
        await _erp(
            client,
            sandbox,
            "POST",
            f"/api/v1/sales-orders/{doc_no}/goods-issue",
            {
                "carrier": booked["carrier"],
                "tracking": booked["tracking_number"],
                "freight_amount": "999.00",
                "currency": booked["currency"],
            },
        )
    tracking = booked["tracking_number"]
    invoice, _ = await workflows.engine.start(
        "ship-to-invoice",
        tracking,
        {"tracking_number": tracking},
        tenant_id=None,
        correlation_id="t",
    )
    held = await settle(workflows, invoice.workflow_id)
    assert held.state is WorkflowState.HELD
    assert "999.00" in held.reason and booked["amount"] in held.reason
    listed = await workflows.page(state=WorkflowState.HELD, kind="ship-to-invoice", limit=200)
    assert invoice.workflow_id in [w.workflow_id for w in listed]
    assert (await erp_get(sandbox, f"/api/v1/invoices?sales_doc={doc_no}"))["records"] == []


async def test_invoicing_waits_out_the_erp_maintenance_window_and_resumes(sandbox, workflows):
    doc_no, label = await shipped_through_workflow(sandbox, workflows)
    tracking = label["tracking_number"]
    await sandbox.aset_faults("erp", maintenance=True)
    started, _ = await workflows.engine.start(
        "ship-to-invoice",
        tracking,
        {"tracking_number": tracking},
        tenant_id=None,
        correlation_id="t",
    )
    try:
        waiting = await settle(workflows, started.workflow_id, until=(WorkflowState.WAITING,))
        assert "erp is down for maintenance" in (waiting.reason or "")
        again = await settle(workflows, started.workflow_id, until=(WorkflowState.WAITING,))
        assert again.attempts >= 1
    finally:
        await sandbox.areset_faults("erp")
    done = await settle(workflows, started.workflow_id)
    assert done.state is WorkflowState.COMPLETED, done.reason
    assert len((await erp_get(sandbox, f"/api/v1/invoices?sales_doc={doc_no}"))["records"]) == 1


@pytest.fixture(params=["sql", "jetstream"])
async def logged_stores(request, tmp_path) -> AsyncIterator[Stores]:
    opened = await open_stores(f"sqlite+aiosqlite:///{tmp_path / 'log.sqlite3'}")
    if request.param == "jetstream":
        from stores.jetstream import JetStreamEventLog

        log = await JetStreamEventLog.connect(
            request.getfixturevalue("nats_url"),
            stream=f"TEST_{uuid.uuid4().hex[:10].upper()}",
            subject_prefix=f"test.{uuid.uuid4().hex[:10]}",
        )
        await opened.event_log.close()
        opened = replace(opened, event_log=SignallingEventLog(log, opened.appended))
        yield opened
        await log._js.delete_stream(log._stream)
    else:
        yield opened
    await opened.close()


def event(event_type: str, aggregate: str, payload: dict, tenant: str | None) -> EventEnvelope:
    now = datetime.now(UTC)
    return EventEnvelope(
        event_id=f"test:{uuid.uuid4().hex}",
        event_type=event_type,
        source=SourceSystem.ERP,
        source_name="ERP",
        aggregate_type="Order" if event_type == "order.changed" else "Shipment",
        aggregate_id=aggregate,
        occurred_at=now,
        received_at=now,
        correlation_id="corr-1",
        tenant_id=tenant,
        payload=payload,
    )


async def test_released_orders_and_deliveries_in_the_log_start_their_workflows_once(
    logged_stores, clients
):
    workflows = build_workflows(clients, logged_stores)
    log = logged_stores.event_log
    await log.append(event("order.changed", "SO-900001", {"status": "OPEN"}, "C-1001"))
    await log.append(event("order.changed", "SO-900001", {"status": "RELEASED"}, "C-1001"))
    await log.append(event("order.changed", "SO-900001", {"status": "RELEASED"}, "C-1001"))
    await log.append(event("order.changed", "SO-900002", {"status": "SHIPPED"}, "C-1001"))
    await log.append(event("shipment.milestone", "SP0000000001", {"status": "IN_TRANSIT"}, None))
    await log.append(event("shipment.milestone", "SP0000000001", {"status": "DELIVERED"}, None))
    await log.append(event("order.changed", "../etc", {"status": "RELEASED"}, "C-1001"))
    await log.append(event("return.authorized", "RMA-499999", {"status": "AUTHORIZED"}, "C-1001"))
    runner = runner_for(logged_stores)
    triggers = WorkflowTriggers(workflows.engine)
    await runner.catch_up(triggers)
    await runner.catch_up(triggers)
    listed = await workflows.page(limit=200)
    assert [(w.workflow_id, w.tenant_id, w.state) for w in listed] == [
        ("order-to-ship.SO-900001", "C-1001", WorkflowState.RUNNING),
        ("return-to-restock.RMA-499999", "C-1001", WorkflowState.RUNNING),
        ("ship-to-invoice.SP0000000001", None, WorkflowState.RUNNING),
    ]
    assert listed[0].inputs == {"order_id": "SO-900001"}
    assert listed[0].correlation_id == "corr-1"


async def test_return_to_restock_waits_for_the_goods_then_credits_what_inspection_decided(
    sandbox, workflows
):
    order = await shipped_order(sandbox, "C-1001", [(MATERIAL, 3)])
    async with httpx.AsyncClient(timeout=30.0) as client:
        rma = await _erp(
            client,
            sandbox,
            "POST",
            "/api/v1/return-orders",
            {
                "ref_doc": order["doc_no"],
                "sold_to": "C-1001",
                "items": [{"ref_pos": 10, "qty": 2, "reason_code": "DMG"}],
            },
        )
    rma_no = rma["rma_no"]
    started, _ = await workflows.engine.start(
        "return-to-restock", rma_no, {"rma_id": rma_no}, tenant_id="C-1001", correlation_id="t"
    )
    waiting = await settle(workflows, started.workflow_id, until=(WorkflowState.WAITING,))
    assert waiting.reason == "awaiting the goods at the warehouse"
    assert not await workflows.engine.hurry("return-to-restock.RMA-none")
    async with httpx.AsyncClient(timeout=30.0) as client:
        received = await client.post(
            f"{sandbox.wms}/v2/returns",
            json={
                "rma_ref": rma_no,
                "owner": "C-1001",
                "warehouse": rma["plant"],
                "lines": [
                    {"sku": MATERIAL, "qty": 1, "condition": "sellable"},
                    {"sku": MATERIAL, "qty": 1, "condition": "damaged"},
                ],
            },
            headers=sandbox.headers("wms"),
        )
        assert received.status_code == 201, received.text
    assert await workflows.engine.hurry(started.workflow_id), "the receipt's event wakes it"
    done = await settle(workflows, started.workflow_id)
    assert done.state is WorkflowState.COMPLETED, done.reason
    steps = {s.step: s for s in (await workflows.view(started.workflow_id)).steps}
    decided = steps["restock_or_write_off"].result
    assert [line["quantity"] for line in decided["restocked"]] == ["1"]
    assert [line["quantity"] for line in decided["written_off"]] == ["1"]
    notes = (await erp_get(sandbox, f"/api/v1/credit-notes?ref_doc={rma_no}"))["records"]
    assert [n["cn_no"] for n in notes] == [steps["credit_note"].result["credit_note_id"]]
    assert (await erp_get(sandbox, f"/api/v1/return-orders/{rma_no}"))["status"] == "CLSD"


async def test_a_delivery_of_an_order_invoiced_already_completes_with_its_invoice(
    sandbox, workflows
):
    invoiced = (await erp_get(sandbox, "/api/v1/sales-orders?status=INV&limit=50"))["records"]
    async with httpx.AsyncClient(timeout=30.0) as client:
        answer = await client.get(
            f"{sandbox.tms}/bookings",
            params=[("order_ref", o["doc_no"]) for o in invoiced] + [("status", "BOOKED")],
            headers=sandbox.headers("tms"),
        )
    booking = answer.json()["bookings"][0]
    before = await erp_get(sandbox, f"/api/v1/invoices?sales_doc={booking['order_ref']}")
    tracking = booking["tracking_number"]
    started, _ = await workflows.engine.start(
        "ship-to-invoice",
        tracking,
        {"tracking_number": tracking},
        tenant_id=None,
        correlation_id="t",
    )
    done = await settle(workflows, started.workflow_id)
    assert done.state is WorkflowState.COMPLETED, done.reason
    steps = {s.step: s for s in (await workflows.view(started.workflow_id)).steps}
    assert steps["post_invoice"].result["invoice_id"] == before["records"][-1]["inv_no"]
    after = await erp_get(sandbox, f"/api/v1/invoices?sales_doc={booking['order_ref']}")
    assert after["records"] == before["records"], "no second invoice"
