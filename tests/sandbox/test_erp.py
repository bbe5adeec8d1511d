"""The ERP over real HTTP: auth, page tokens, idempotent writes, validation, rate limit."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from tests.sandbox.helpers import erp_get, erp_request
from tests.sandbox_processes import Sandbox

pytestmark = pytest.mark.sandbox


async def test_missing_or_wrong_api_key_is_rejected(clean_faults: Sandbox) -> None:
    async with httpx.AsyncClient() as client:
        missing = await client.get(f"{clean_faults.erp}/api/v1/sales-orders")
        wrong = await client.get(
            f"{clean_faults.erp}/api/v1/customers", headers={"X-ERP-Key": "nope"}
        )
    assert (missing.status_code, missing.json()) == (401, {"error": "unauthorized"})
    assert (wrong.status_code, wrong.json()) == (401, {"error": "unauthorized"})


async def test_page_tokens_walk_one_customers_orders_without_gaps(clean_faults: Sandbox) -> None:
    seen: list[str] = []
    token = None
    async with httpx.AsyncClient() as client:
        while True:
            params = {"sold_to": "C-1004", "limit": 20}
            if token:
                params["page_token"] = token
            page = (await erp_get(client, clean_faults, "/api/v1/sales-orders", **params)).json()
            assert all(order["sold_to"] == "C-1004" for order in page["records"])
            seen += [order["doc_no"] for order in page["records"]]
            token = page["next_page_token"]
            if token is None:
                break
        everything = (await erp_get(client, clean_faults, "/api/v1/sales-orders", limit=200)).json()
    assert len(seen) == len(set(seen)) > 20
    assert everything["next_page_token"] is not None, "300 orders need a second page of 200"


async def test_bad_limit_and_token_are_validation_errors(clean_faults: Sandbox) -> None:
    async with httpx.AsyncClient() as client:
        too_big = await erp_get(client, clean_faults, "/api/v1/sales-orders", limit=500)
        bad_token = await erp_get(client, clean_faults, "/api/v1/customers", page_token="zz")
    assert too_big.status_code == 422 and too_big.json()["error"] == "validation"
    assert bad_token.status_code == 422


async def test_order_and_reference_data_use_the_erps_field_names(clean_faults: Sandbox) -> None:
    async with httpx.AsyncClient() as client:
        order = (await erp_get(client, clean_faults, "/api/v1/sales-orders/SO-100042")).json()
        customer = await erp_get(client, clean_faults, f"/api/v1/customers/{order['sold_to']}")
        material = await erp_get(
            client, clean_faults, f"/api/v1/materials/{order['items'][0]['material']}"
        )
        missing = await erp_get(client, clean_faults, "/api/v1/sales-orders/SO-999999")
    assert set(order) == {
        "doc_no", "sold_to", "ship_to", "doc_date", "req_delivery_date", "status", "currency",
        "items", "changed_at",
    }  # fmt: skip
    assert customer.json()["cust_no"] == order["sold_to"]
    assert material.json()["weight_unit"] == "KG"
    assert (missing.status_code, missing.json()) == (404, {"error": "not_found"})


async def test_same_idempotency_key_creates_one_order(clean_faults: Sandbox) -> None:
    body = {"sold_to": "C-1001", "items": [{"material": "MAT-0012", "qty": "4"}]}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    path = "/api/v1/sales-orders"
    async with httpx.AsyncClient() as client:
        first = await erp_request(client, clean_faults, "POST", path, json=body, headers=key)
        again = await erp_request(client, clean_faults, "POST", path, json=body, headers=key)
        other_key = {"Idempotency-Key": uuid.uuid4().hex}
        other = await erp_request(client, clean_faults, "POST", path, json=body, headers=other_key)
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 201)
    assert first.json() == again.json()
    assert other.json()["doc_no"] != first.json()["doc_no"]
    assert first.json()["status"] == "OPEN" and first.json()["items"][0]["qty"] == "4"


async def test_invalid_order_is_422_with_details(clean_faults: Sandbox) -> None:
    body = {"sold_to": "C-9999", "items": [{"material": "MAT-0012", "qty": 0}]}
    async with httpx.AsyncClient() as client:
        response = await erp_request(
            client, clean_faults, "POST", "/api/v1/sales-orders", json=body
        )
    assert response.status_code == 422
    fields = {detail["field"] for detail in response.json()["details"]}
    assert fields == {"sold_to", "items[0].qty"}


async def test_invoice_needs_a_shipped_order_and_is_idempotent(clean_faults: Sandbox) -> None:
    async with httpx.AsyncClient() as client:
        shipped = await erp_get(client, clean_faults, "/api/v1/sales-orders", status="SHIP")
        open_ = await erp_get(client, clean_faults, "/api/v1/sales-orders", status="OPEN")
        doc_no = shipped.json()["records"][0]["doc_no"]
        path = "/api/v1/invoices"
        headers = {"Idempotency-Key": uuid.uuid4().hex}

        async def invoice(sales_doc: str) -> httpx.Response:
            body = {"sales_doc": sales_doc}
            return await erp_request(client, clean_faults, "POST", path, json=body, headers=headers)

        refused = await invoice(open_.json()["records"][0]["doc_no"])
        first = await invoice(doc_no)
        again = await invoice(doc_no)
        headers["Idempotency-Key"] = uuid.uuid4().hex
        second_invoice = await invoice(doc_no)
        order = await erp_get(client, clean_faults, f"/api/v1/sales-orders/{doc_no}")
        listed = await erp_get(client, clean_faults, "/api/v1/invoices", sales_doc=doc_no)
    assert refused.status_code == 409
    assert refused.json() == {"error": "conflict", "message": "order not shipped"}
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    assert second_invoice.status_code == 409
    assert order.json()["status"] == "INV"
    assert [i["inv_no"] for i in listed.json()["records"]] == [first.json()["inv_no"]]
    assert first.json()["freight"][0]["tracking"]


async def test_rate_limit_answers_429_with_retry_after(clean_faults: Sandbox) -> None:
    async with httpx.AsyncClient() as client:
        await asyncio.sleep(1.0)  # a fresh one-second window
        responses = await asyncio.gather(
            *(
                client.get(
                    f"{clean_faults.erp}/api/v1/customers", headers=clean_faults.headers("erp")
                )
                for _ in range(30)
            )
        )
    limited = [r for r in responses if r.status_code == 429]
    assert len(limited) >= 10, [r.status_code for r in responses]
    assert all(int(r.headers["retry-after"]) >= 1 for r in limited)
    assert limited[0].json()["error"] == "rate_limited"
    await asyncio.sleep(1.0)


async def test_maintenance_answers_503_with_retry_after_30(clean_faults: Sandbox) -> None:
    await clean_faults.aset_faults("erp", maintenance=True)
    async with httpx.AsyncClient() as client:
        response = await client.get(
            f"{clean_faults.erp}/api/v1/customers", headers=clean_faults.headers("erp")
        )
        health = await client.get(f"{clean_faults.erp}/_admin/health")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    assert response.json()["error"] == "maintenance"
    assert health.json() == {"status": "ok", "backend": "erp"}
