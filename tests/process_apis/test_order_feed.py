"""The ERP's order changes into the event log: one `order.changed` event per change, against the
real ERP process and a real SQLite store; re-reads deduplicate, the cursor moves by
compare-and-set under the `poll:erp-orders` lease, an outage keeps the cursor."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from domain.events import SourceSystem
from domain.orders import OrderStatus, order_from_record
from process_apis.polling import ERP_ORDERS_FEED, FeedLease, FeedPoller, build_pollers
from process_apis.tracking import MilestoneRecorder
from stores import Stores, open_stores
from system_apis import BackendUnavailable, SystemClients
from system_apis.erp.events import ORDER_CHANGED_EVENT_TYPE

if TYPE_CHECKING:
    from tests.sandbox_processes import Sandbox


def order_feed(
    clients: SystemClients, stores: Stores, recorder: MilestoneRecorder, **options: object
) -> FeedPoller:
    pollers = build_pollers(clients, stores, recorder, **options)  # type: ignore[arg-type]
    (poller,) = [p for p in pollers if p.source == ERP_ORDERS_FEED]
    assert isinstance(poller, FeedPoller)
    return poller


async def order_events(stores: Stores) -> list:
    events = await stores.event_log.read(limit=100_000)
    return [e for e in events if e.envelope.event_type == ORDER_CHANGED_EVENT_TYPE]


async def new_order(sandbox: Sandbox, customer: str = "C-1001") -> dict:
    async with httpx.AsyncClient(timeout=10.0) as client:
        response = await client.post(
            f"{sandbox.erp}/api/v1/sales-orders",
            json={"sold_to": customer, "items": [{"material": "MAT-0001", "qty": 2}]},
            headers=sandbox.headers("erp"),
        )
    assert response.status_code == 201, response.text
    return response.json()


async def test_the_first_poll_logs_every_change_as_an_order_event_and_stores_the_cursor(
    clients: SystemClients, stores: Stores, recorder: MilestoneRecorder
) -> None:
    outcome = await order_feed(clients, stores, recorder).poll_once()
    assert outcome.recorded > 0 and outcome.rejected == 0 and outcome.drained, outcome
    assert await stores.cursors.get(ERP_ORDERS_FEED) == outcome.cursor
    events = await order_events(stores)
    assert len(events) == outcome.recorded
    numbers = [event.envelope.payload["change_number"] for event in events]
    assert numbers == sorted(numbers), "the log keeps the ERP's order of changes"
    first = events[0].envelope
    assert first.event_id == f"ERP:order-change:{first.payload['change_number']}"
    assert (first.source, first.aggregate_type) == (SourceSystem.ERP, "Order")
    assert first.aggregate_id == first.payload["order_id"]
    assert first.tenant_id == first.payload["customer_id"] and first.tenant_id.startswith("C-")
    assert first.payload["status"] in {status.value for status in OrderStatus}
    assert "changed_at" in first.payload
    order = order_from_record(first.payload)
    assert order.order_id == first.aggregate_id and order.lines, "the whole order travels"


async def test_a_second_poll_logs_nothing_and_a_reread_is_deduplicated(
    clients: SystemClients, stores: Stores, recorder: MilestoneRecorder
) -> None:
    poller = order_feed(clients, stores, recorder)
    first = await poller.poll_once()
    again = await poller.poll_once()
    assert (again.recorded, again.duplicates) == (0, 0) and again.cursor == first.cursor
    await stores.cursors.put(ERP_ORDERS_FEED, "", expected=first.cursor)  # lose the cursor
    reread = await poller.poll_once()
    assert reread.recorded == 0 and reread.duplicates == first.recorded, reread
    assert len(await order_events(stores)) == first.recorded, "each change once in the log"


async def test_a_new_order_and_its_release_arrive_as_two_events_in_order(
    sandbox: Sandbox, clients: SystemClients, stores: Stores, recorder: MilestoneRecorder
) -> None:
    poller = order_feed(clients, stores, recorder)
    await poller.poll_once()
    created = await new_order(sandbox, "C-1002")
    released = await sandbox.aadvance("erp", created["doc_no"], steps=1)
    assert released == [{"doc_no": created["doc_no"], "status": "REL"}]
    outcome = await poller.poll_once()
    assert outcome.recorded >= 2, outcome
    mine = [
        e.envelope
        for e in await order_events(stores)
        if e.envelope.aggregate_id == created["doc_no"]
    ]
    assert [e.payload["status"] for e in mine] == ["OPEN", "RELEASED"]
    assert {e.tenant_id for e in mine} == {"C-1002"}
    assert mine[0].payload["change_number"] < mine[1].payload["change_number"]


async def test_only_the_lease_holder_reads_the_feed(
    clients: SystemClients, stores: Stores, recorder: MilestoneRecorder
) -> None:
    await stores.leases.acquire(f"poll:{ERP_ORDERS_FEED}", "another-process", 30)
    lease = FeedLease(stores.leases, "this-process", 30)
    outcome = await order_feed(clients, stores, recorder, lease=lease).poll_once()
    assert not outcome.held and outcome.recorded == 0
    assert await order_events(stores) == []


async def test_a_maintenance_window_keeps_the_cursor(
    clean_faults: Sandbox, clients: SystemClients, stores: Stores, recorder: MilestoneRecorder
) -> None:
    poller = order_feed(clients, stores, recorder)
    cursor = (await poller.poll_once()).cursor
    await clean_faults.aset_faults("erp", maintenance=True)
    with pytest.raises(BackendUnavailable):
        await poller.poll_once()
    assert await stores.cursors.get(ERP_ORDERS_FEED) == cursor


async def test_on_jetstream_each_change_is_logged_once_in_the_erps_order(
    clients: SystemClients, tmp_path: Path, nats_url: str
) -> None:
    suffix = uuid.uuid4().hex[:10]
    stores = await open_stores(
        f"sqlite+aiosqlite:///{tmp_path / 'js.sqlite3'}",
        nats_url,
        stream=f"ORDERS_{suffix.upper()}",
        subject_prefix=f"orders.{suffix}",
    )
    try:
        poller = order_feed(clients, stores, MilestoneRecorder(stores.event_log))
        first = await poller.poll_once()
        await stores.cursors.put(ERP_ORDERS_FEED, "", expected=first.cursor)
        again = await poller.poll_once()
        assert (again.recorded, again.duplicates) == (0, first.recorded), again
        events = await order_events(stores)
        numbers = [event.envelope.payload["change_number"] for event in events]
        assert numbers == sorted(set(numbers)) and len(numbers) == first.recorded
    finally:
        inner = getattr(stores.event_log, "inner", stores.event_log)
        await inner._js.delete_stream(f"ORDERS_{suffix.upper()}")
        await stores.close()
