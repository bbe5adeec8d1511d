"""One seed, six processes: order numbers, tasks, bookings and tracking numbers agree."""

from __future__ import annotations

import httpx
import pytest

from tests.sandbox.helpers import erp_get, parse_interchanges
from tests.sandbox_processes import Sandbox

pytestmark = pytest.mark.sandbox


async def test_booked_tracking_numbers_are_known_to_their_carriers(clean_faults: Sandbox) -> None:
    sandbox = clean_faults
    async with httpx.AsyncClient() as client:
        bookings = (
            await client.get(
                f"{sandbox.tms}/bookings",
                params={"status": "BOOKED", "limit": 500},
                headers=sandbox.headers("tms"),
            )
        ).json()["bookings"]
        first = {}
        for booking in bookings:
            first.setdefault(booking["carrier"], booking)
        assert set(first) == {"SWFT", "RDLN", "HRTG"}

        outbox = (await client.get(f"{sandbox.heritage}/edi/outbox", params={"limit": 5000})).text
        heritage_b10 = {
            (segment[1], segment[2])
            for interchange in parse_interchanges(outbox)
            for segment in interchange["segments"]
            if segment[0] == "B10"
        }
        for carrier, booking in first.items():
            order_ref, tracking = booking["order_ref"], booking["tracking_number"]
            order = (await erp_get(client, sandbox, f"/api/v1/sales-orders/{order_ref}")).json()
            assert order["status"] in ("PART", "SHIP", "INV"), order
            tasks = (
                await client.get(
                    f"{sandbox.wms}/v2/tasks",
                    params={"order_ref": order_ref},
                    headers=sandbox.headers("wms"),
                )
            ).json()["data"]
            assert {task["warehouse"] for task in tasks} == {order["items"][0]["plant"]}
            if carrier == "SWFT":
                tracked = await client.get(
                    f"{sandbox.swiftparcel}/v1/track/{tracking}",
                    headers=sandbox.headers("swiftparcel"),
                )
                assert tracked.status_code == 200 and tracked.json()["events"]
            elif carrier == "RDLN":
                shipment = await client.get(
                    f"{sandbox.roadline}/api/shipments/{tracking}",
                    params=sandbox.params("roadline"),
                )
                assert shipment.json()["shipper_ref"] == order_ref
            else:
                assert (tracking, booking["booking_id"]) in heritage_b10


async def test_invoice_freight_matches_the_tms_booking(clean_faults: Sandbox) -> None:
    async with httpx.AsyncClient() as client:
        invoices = (await erp_get(client, clean_faults, "/api/v1/invoices", limit=20)).json()
        invoice = next(i for i in invoices["records"] if i["freight"])
        booking = (
            await client.get(
                f"{clean_faults.tms}/bookings",
                params={"order_ref": invoice["sales_doc"]},
                headers=clean_faults.headers("tms"),
            )
        ).json()["bookings"][0]
    assert invoice["freight"][0]["tracking"] == booking["tracking_number"]
    assert invoice["freight"][0]["carrier"] == booking["carrier"]


async def test_all_orders_page_through_six_customers(clean_faults: Sandbox) -> None:
    doc_numbers: list[str] = []
    customers: set[str] = set()
    token = None
    async with httpx.AsyncClient() as client:
        while True:
            params = {"limit": 200, **({"page_token": token} if token else {})}
            page = (await erp_get(client, clean_faults, "/api/v1/sales-orders", **params)).json()
            doc_numbers += [order["doc_no"] for order in page["records"]]
            customers |= {order["sold_to"] for order in page["records"]}
            token = page["next_page_token"]
            if not token:
                break
    assert len(doc_numbers) == len(set(doc_numbers)) >= 300
    assert len(customers) == 6
