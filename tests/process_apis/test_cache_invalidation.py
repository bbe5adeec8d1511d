"""Which backbone events purge which cached answers, and a process purging its own cache."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from aiocache import SimpleMemoryCache

from domain.events import EventEnvelope, SourceSystem
from process_apis.cache_invalidation import purge_in_process
from process_apis.cache_tags import (
    item_tag,
    order_tag,
    orders_of_tenant_tag,
    shipment_tag,
    tags_of_event,
)
from process_apis.live.hub import SubscriptionHub
from stores.event_log import SqlEventLog
from stores.sql import create_tables, open_engine
from stores.tagged_cache import MemoryTaggedStore


def envelope(aggregate_type: str, aggregate_id: str, **payload: object) -> EventEnvelope:
    now = datetime.now(UTC)
    return EventEnvelope(
        event_id=f"test:{aggregate_type}:{aggregate_id}:{time.monotonic_ns()}",
        event_type="test.changed",
        source=SourceSystem.GATEWAY,
        source_name="test",
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        occurred_at=now,
        received_at=now,
        correlation_id="test",
        tenant_id=payload.pop("tenant", None),  # type: ignore[arg-type]
        payload=payload,
    )


def test_a_shipment_event_purges_the_shipment_and_its_order():
    tags = tags_of_event(envelope("Shipment", "1Z999", order_id="SO-7"))
    assert tags == (shipment_tag("1Z999"), order_tag("SO-7"))
    assert tags[0] == 'Shipment:{"trackingNumber":"1Z999"}'


def test_an_order_change_purges_the_order_and_its_tenants_lists():
    tags = tags_of_event(envelope("Order", "SO-1", tenant="C-1001"))
    assert tags == (order_tag("SO-1"), orders_of_tenant_tag("C-1001"))


def test_a_stock_change_purges_the_item_of_its_position():
    assert tags_of_event(envelope("InventoryPosition", "WH-AMS/A-01/SKU-9")) == (item_tag("SKU-9"),)
    with_sku = envelope("InventoryPosition", "WH/B/x", sku="SKU-1")
    assert tags_of_event(with_sku) == (item_tag("SKU-1"),)


def test_other_events_purge_nothing():
    assert tags_of_event(envelope("Workflow", "wf-1")) == ()


async def test_each_process_purges_its_own_memory_cache_as_the_log_grows(tmp_path):
    engine = open_engine(f"sqlite+aiosqlite:///{tmp_path / 'log.sqlite3'}")
    await create_tables(engine)
    log = SqlEventLog(engine)
    store = MemoryTaggedStore(SimpleMemoryCache())
    hub = SubscriptionHub(log, poll_interval_s=0.05)
    stop = asyncio.Event()
    purging = asyncio.create_task(purge_in_process(hub, store, stop))
    try:
        await store.put("answer", b"{}", ttl_s=60, tags=[shipment_tag("1Z1")], started_at=0)
        await store.put("other", b"{}", ttl_s=60, tags=[shipment_tag("1Z2")], started_at=0)
        await asyncio.sleep(0.2)  # the hub's tail has started at the log's end
        await log.append(envelope("Shipment", "1Z1"))
        deadline = time.monotonic() + 10
        while (await store.get_many(["answer"]))[0] is not None:
            assert time.monotonic() < deadline, "the delivery never purged the answer"
            await asyncio.sleep(0.05)
        assert (await store.get_many(["other"]))[0] == b"{}"
    finally:
        stop.set()
        await asyncio.wait_for(purging, 5)
        await hub.close()
        await engine.dispose()
