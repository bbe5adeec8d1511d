"""Return orders (ERP) and return receipts (WMS) over real HTTP: credentials, precise
validation, both backends agreeing on the seeded returns, and the WMS's signed pushes."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from sandbox.seed import generate
from tests.sandbox.conftest import Receiver
from tests.sandbox.helpers import erp_get, erp_request
from tests.sandbox_processes import Sandbox
from tests.shipped_orders import shipped_order

pytestmark = pytest.mark.sandbox


async def test_return_orders_need_the_erp_key_and_the_receipts_the_wms_token(
    clean_faults: Sandbox,
) -> None:
    async with httpx.AsyncClient() as client:
        erp = await client.get(f"{clean_faults.erp}/api/v1/return-orders")
        wms = await client.post(f"{clean_faults.wms}/v2/returns", json={})
    assert (erp.status_code, wms.status_code) == (401, 401)


async def test_the_seeded_returns_agree_between_erp_and_wms(clean_faults: Sandbox) -> None:
    world = generate(clean_faults.seed)
    received = [r for r in world.returns if r.receipt_no]
    assert {r.sold_to for r in world.returns} == {"C-1001", "C-1002"} and received
    async with httpx.AsyncClient() as client:
        for seeded in received:
            rma = await erp_get(client, clean_faults, f"/api/v1/return-orders/{seeded.rma_no}")
            receipts = await client.get(
                f"{clean_faults.wms}/v2/returns",
                params={"rma_ref": seeded.rma_no},
                headers=clean_faults.headers("wms"),
            )
            (receipt,) = receipts.json()["data"]
            assert rma.json()["status"] == "RCVD" and receipt["state"] == "inspected"
            assert [line["sku"] for line in receipt["lines"]] == [
                item["material"] for item in rma.json()["items"]
            ]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"ref_doc", "sold_to", "items"}),
        ({"ref_doc": "SO-1", "sold_to": "C-1001", "items": [{}] * 51}, {"items"}),
        (
            {"ref_doc": "SO-1", "sold_to": "C-1001", "items": [
                {"ref_pos": "10", "qty": "-1", "reason_code": "BROKEN"}]},
            {"items[0].ref_pos", "items[0].qty", "items[0].reason_code"},
        ),
        (
            {"ref_doc": "SO-1", "sold_to": "C-1001", "items": [
                {"ref_pos": 10, "qty": "1.5", "reason_code": "DMG"}]},
            {"items[0].qty"},
        ),
    ],
)  # fmt: skip
async def test_a_bad_return_order_names_every_bad_field(
    clean_faults: Sandbox, body: dict, fields: set[str]
) -> None:
    async with httpx.AsyncClient() as client:
        answer = await erp_request(client, clean_faults, "POST", "/api/v1/return-orders", json=body)
    assert answer.status_code == 422, answer.text
    assert {detail["field"] for detail in answer.json()["details"]} == fields


async def test_a_bad_receipt_names_every_bad_field(clean_faults: Sandbox) -> None:
    body = {
        "rma_ref": "R" * 65,
        "owner": "C-1001",
        "warehouse": "WH-AMS",
        "lines": [{"sku": "MAT-1", "qty": 0, "condition": "broken"}, "x"],
    }
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"{clean_faults.wms}/v2/returns", json=body, headers=clean_faults.headers("wms")
        )
        unknown = await client.post(
            f"{clean_faults.wms}/v2/returns",
            json={**body, "rma_ref": "RMA-1", "warehouse": "WH-NOPE", "lines": []},
            headers=clean_faults.headers("wms"),
        )
    assert answer.status_code == 422
    assert {d["field"] for d in answer.json()["details"]} == {
        "rma_ref",
        "lines[0].qty",
        "lines[0].condition",
        "lines[1]",
    }
    assert {d["field"] for d in unknown.json()["details"]} == {"warehouse", "lines"}


async def test_a_receipt_is_pushed_signed_as_received_then_inspected(
    clean_faults: Sandbox, hooks: Receiver
) -> None:
    order = await shipped_order(clean_faults, "C-1002", [("MAT-0007", 2)])
    async with httpx.AsyncClient() as client:
        rma = await erp_request(
            client,
            clean_faults,
            "POST",
            "/api/v1/return-orders",
            json={
                "ref_doc": order["doc_no"],
                "sold_to": "C-1002",
                "items": [{"ref_pos": 10, "qty": "2", "reason_code": "WRG"}],
            },
        )
        assert rma.status_code == 201, rma.text
        await clean_faults.aset_webhook("wms", hooks.url("wms"), "s3cret")
        try:
            receipt = await client.post(
                f"{clean_faults.wms}/v2/returns",
                json={
                    "rma_ref": rma.json()["rma_no"],
                    "owner": "C-1002",
                    "warehouse": rma.json()["plant"],
                    "lines": [{"sku": "MAT-0007", "qty": 2, "condition": "damaged"}],
                },
                headers={**clean_faults.headers("wms"), "Idempotency-Key": uuid.uuid4().hex},
            )
            pushed = await hooks.wait_for("wms", 3)
        finally:
            await clean_faults.aset_webhook("wms", None)
    assert receipt.status_code == 201, receipt.text
    kinds = [json.loads(p.body)["type"] for p in pushed]
    assert kinds == ["return.received", "inventory.adjusted", "return.inspected"]
    assert all(p.headers["x-wms-signature"].startswith("sha256=") for p in pushed)
    inspected = json.loads(pushed[2].body)["data"]
    assert inspected["lines"][0] | {"line": 1} == {
        "line": 1,
        "sku": "MAT-0007",
        "qty": 2,
        "uom": "EA",
        "condition": "damaged",
        "bin": "QC-01",
    }
