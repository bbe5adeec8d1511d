"""The reference ERP's reservations, goods issue, freight, book stock and credit notes, and the
WMS's outbound orders: their refusals in each backend's own words, and replays by key."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.sandbox.helpers import erp_request
from tests.shipped_orders import shipped_order

MATERIAL = "MAT-0001"


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


async def test_a_released_order_is_reserved_once_released_and_consumed_by_goods_issue(sandbox):
    doc_no = (await shipped_order(sandbox, "C-1001", [(MATERIAL, 2)], shipped=False))["doc_no"]
    async with httpx.AsyncClient(timeout=30) as client:
        first_key = key()
        reserved = await erp_request(
            client,
            sandbox,
            "POST",
            "/api/v1/reservations",
            json={"sales_doc": doc_no},
            headers=first_key,
        )
        assert reserved.status_code == 201, reserved.text
        reservation = reserved.json()
        assert reservation["status"] == "ACTIVE" and reservation["items"][0]["material"] == MATERIAL
        replay = await erp_request(
            client,
            sandbox,
            "POST",
            "/api/v1/reservations",
            json={"sales_doc": doc_no},
            headers=first_key,
        )
        assert replay.status_code == 200 and replay.json() == reservation
        again = await erp_request(
            client,
            sandbox,
            "POST",
            "/api/v1/reservations",
            json={"sales_doc": doc_no},
            headers=key(),
        )
        assert again.status_code == 409 and again.json()["error"] == "already_reserved"
        assert again.json()["details"][0]["res_no"] == reservation["res_no"]
        path = f"/api/v1/reservations/{reservation['res_no']}/release"
        released = await erp_request(client, sandbox, "POST", path, json={})
        assert released.json()["status"] == "RELEASED"
        assert (await erp_request(client, sandbox, "POST", path, json={})).status_code == 200
        reserved = await erp_request(
            client,
            sandbox,
            "POST",
            "/api/v1/reservations",
            json={"sales_doc": doc_no},
            headers=key(),
        )
        assert reserved.status_code == 201
        issue = {
            "carrier": "SWFT",
            "tracking": "SP0000000042",
            "freight_amount": "7.95",
            "currency": "EUR",
        }
        shipped = await erp_request(
            client, sandbox, "POST", f"/api/v1/sales-orders/{doc_no}/goods-issue", json=issue
        )
        assert shipped.status_code == 200 and shipped.json()["status"] == "SHIP"
        consumed = await erp_request(
            client,
            sandbox,
            "POST",
            f"/api/v1/reservations/{reserved.json()['res_no']}/release",
            json={},
        )
        assert consumed.status_code == 409
        freight = await erp_request(
            client, sandbox, "GET", f"/api/v1/sales-orders/{doc_no}/freight"
        )
        assert freight.json() == {
            "sales_doc": doc_no,
            "carrier": "SWFT",
            "tracking": "SP0000000042",
            "amount": "7.95",
            "currency": "EUR",
        }
        twice = await erp_request(
            client, sandbox, "POST", f"/api/v1/sales-orders/{doc_no}/goods-issue", json=issue
        )
        assert twice.status_code == 409, "goods are issued once"
        not_released = await erp_request(
            client, sandbox, "POST", "/api/v1/reservations", json={"sales_doc": doc_no}
        )
        assert not_released.status_code == 409 and "not released" in not_released.json()["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"carrier": "", "tracking": "T", "freight_amount": "1", "currency": "EUR"}, "carrier"),
        (
            {"carrier": "S", "tracking": "T" * 65, "freight_amount": "1", "currency": "EUR"},
            "tracking",
        ),
        (
            {"carrier": "S", "tracking": "T", "freight_amount": "-1", "currency": "EUR"},
            "freight_amount",
        ),
        (
            {"carrier": "S", "tracking": "T", "freight_amount": "NaN", "currency": "EUR"},
            "freight_amount",
        ),
        ({"carrier": "S", "tracking": "T", "freight_amount": "1", "currency": "euro"}, "currency"),
    ],
)
async def test_goods_issue_refuses_malformed_freight_naming_the_field(sandbox, body, field):
    async with httpx.AsyncClient(timeout=30) as client:
        refused = await erp_request(
            client, sandbox, "POST", "/api/v1/sales-orders/SO-100001/goods-issue", json=body
        )
    assert refused.status_code == 422
    assert [detail["field"] for detail in refused.json()["details"]] == [field]


async def test_book_stock_is_listed_by_plant_and_material(sandbox):
    async with httpx.AsyncClient(timeout=30) as client:
        page = await erp_request(client, sandbox, "GET", "/api/v1/stock", limit=5)
    records = page.json()["records"]
    assert len(records) == 5 and page.json()["next_page_token"]
    assert set(records[0]) == {"plant", "material", "unrestricted", "uom"}


async def test_a_credit_note_credits_a_return_once_and_closes_it(sandbox):
    order = await shipped_order(sandbox, "C-1002", [(MATERIAL, 2)])
    async with httpx.AsyncClient(timeout=30) as client:
        rma = (
            await erp_request(
                client,
                sandbox,
                "POST",
                "/api/v1/return-orders",
                json={
                    "ref_doc": order["doc_no"],
                    "sold_to": "C-1002",
                    "items": [{"ref_pos": 10, "qty": 1, "reason_code": "NND"}],
                },
            )
        ).json()
        credited = await erp_request(
            client, sandbox, "POST", "/api/v1/credit-notes", json={"ref_doc": rma["rma_no"]}
        )
        assert credited.status_code == 201, credited.text
        note = credited.json()
        price = order["items"][0]["net_price"]
        assert note["net"] == price and note["bill_to"] == "C-1002"
        again = await erp_request(
            client, sandbox, "POST", "/api/v1/credit-notes", json={"ref_doc": rma["rma_no"]}
        )
        assert again.status_code == 409 and again.json()["error"] == "already_credited"
        closed = await erp_request(client, sandbox, "GET", f"/api/v1/return-orders/{rma['rma_no']}")
        assert closed.json()["status"] == "CLSD"
        missing = await erp_request(
            client, sandbox, "POST", "/api/v1/credit-notes", json={"ref_doc": "RMA-1"}
        )
        assert missing.status_code == 404


async def test_an_outbound_order_becomes_pick_pack_and_ship_tasks_once(sandbox):
    order_ref = f"SO-X{uuid.uuid4().hex[:6]}"
    body = {"order_ref": order_ref, "warehouse": "WH-AMS", "lines": [{"sku": MATERIAL, "qty": 2}]}
    headers = sandbox.headers("wms")
    async with httpx.AsyncClient(timeout=30) as client:
        made = await client.post(f"{sandbox.wms}/v2/outbound-orders", json=body, headers=headers)
        assert made.status_code == 201, made.text
        assert [t["type"] for t in made.json()["tasks"]] == ["PICK", "PACK", "SHIP"]
        again = await client.post(
            f"{sandbox.wms}/v2/outbound-orders", json=body, headers=headers | key()
        )
        assert again.status_code == 200 and again.json()["tasks"] == made.json()["tasks"]
        for bad, field in (
            ({**body, "warehouse": "WH-NOWHERE"}, "warehouse"),
            ({**body, "lines": []}, "lines"),
            ({**body, "lines": [{"sku": MATERIAL, "qty": 0}]}, "lines[0].qty"),
            ({**body, "lines": [{"sku": "NOT-A-SKU", "qty": 1}]}, "lines[0].sku"),
        ):
            refused = await client.post(
                f"{sandbox.wms}/v2/outbound-orders",
                json=bad | {"order_ref": f"SO-Y{uuid.uuid4().hex[:6]}"},
                headers=headers,
            )
            assert refused.status_code == 422, refused.text
            assert field in [d["field"] for d in refused.json()["details"]]
        warehouses = (await client.get(f"{sandbox.wms}/v2/warehouses", headers=headers)).json()
        assert all(w["postal_code"] for w in warehouses["data"])
