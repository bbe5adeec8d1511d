"""The live subgraph through strawberry's `schema.subscribe`, over the reference backends and a
real event log (SQLite and JetStream): what each event delivers, and what no caller may do."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain import EventEnvelope, SourceSystem
from domain.shipments import Milestone, MilestoneStatus, progress_rank
from policies.cursors import CursorSigner
from policies.principal import Principal
from process_apis.live.hub import SubscriptionHub
from process_apis.live.updates import LiveUpdates
from process_apis.services import LogisticsServices, build_services
from resolvers.live import schema
from stores import Stores, open_stores
from stores.cache import open_cache
from stores.jetstream import JetStreamEventLog

WAIT_S = 10.0
SHIPMENT = """subscription($tn: String, $order: ID) {
  shipmentUpdated(trackingNumber: $tn, orderId: $order) {
    eventId eventType occurredAt status
    milestone { status carrierCode occurredAt }
    shipment { trackingNumber }
  }
}"""
ORDER = """subscription($id: ID!) {
  orderStatusChanged(orderId: $id) { eventId eventType status order { id } }
}"""
INVENTORY = """subscription($sku: ID!, $wh: ID) {
  inventoryChanged(sku: $sku, warehouseId: $wh) {
    eventId warehouseId onHand delta item { sku }
  }
}"""
WORKFLOW = """subscription($id: ID!) {
  workflowChanged(id: $id) { eventId eventType step state workflow { id } }
}"""


@pytest.fixture(params=["sqlite", "jetstream"])
async def live_stores(request, tmp_path) -> AsyncIterator[Stores]:
    """Both engines, for the tests where the log's behaviour matters."""
    opened = await open_stores(f"sqlite+aiosqlite:///{tmp_path / 'live.sqlite3'}")
    if request.param == "sqlite":
        yield opened
        await opened.close()
        return
    log = await JetStreamEventLog.connect(
        request.getfixturevalue("nats_url"),
        stream=f"LIVE_{uuid.uuid4().hex[:10].upper()}",
        subject_prefix=f"live.{uuid.uuid4().hex[:10]}",
    )
    yield dataclasses.replace(opened, event_log=log)
    await log._js.delete_stream(log._stream)
    await opened.close()


@contextlib.asynccontextmanager
async def live_services(clients, stores: Stores) -> AsyncIterator[LogisticsServices]:
    cache = open_cache("memory", namespace=f"live-{uuid.uuid4().hex}")
    built = build_services(clients, stores, cache)
    hub = SubscriptionHub(stores.event_log, poll_interval_s=0.02)
    live = LiveUpdates(hub, clients.tms, built.orders.owners, stores.milestones, max_replay=50)
    try:
        yield dataclasses.replace(built, live=live)
    finally:
        await live.close()
        await cache.close()


@pytest.fixture
async def services(clients, live_stores) -> AsyncIterator[LogisticsServices]:
    async with live_services(clients, live_stores) as built:
        yield built


@pytest.fixture
async def sqlite_services(clients, stores) -> AsyncIterator[LogisticsServices]:
    """The embedded log only, for the tests of what callers may not do."""
    async with live_services(clients, stores) as built:
        yield built


def context(services: LogisticsServices, tenant: str | None, **extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"services": services, "cursors": CursorSigner(b"k" * 32), **extra}
    if tenant is not None:
        values["principal"] = Principal(client_id=f"{tenant}-portal", tenant_id=tenant)
    return values


class Stream:
    """One subscription, started at once (so it is listening before the test appends)."""

    def __init__(self, results: AsyncIterator[Any]) -> None:
        self._results = results
        self._next: asyncio.Task[Any] = asyncio.ensure_future(anext(results))

    async def next(self) -> Any:
        result = await asyncio.wait_for(asyncio.shield(self._next), WAIT_S)
        self._next = asyncio.ensure_future(anext(self._results))
        return result

    async def take(self, count: int) -> list[Any]:
        return [await self.next() for _ in range(count)]

    async def close(self) -> None:
        self._next.cancel()
        with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
            await self._next  # the results are closed once nothing waits on them
        await self._results.aclose()


async def subscribe(
    services: LogisticsServices, query: str, tenant: str | None, variables: dict, **extra: Any
) -> Stream:
    listening = services.live.hub.listener_count
    results = await schema.subscribe(query, variables, context(services, tenant, **extra))
    stream = Stream(results)
    async with asyncio.timeout(WAIT_S):  # listening, or already answered with an error
        while services.live.hub.listener_count == listening and not stream._next.done():
            await asyncio.sleep(0.01)
    return stream


async def first_error(services, query: str, tenant: str | None, variables: dict, **extra):
    stream = await subscribe(services, query, tenant, variables, **extra)
    try:
        result = await stream.next()
    finally:
        await stream.close()
    assert result.errors, f"expected an error, got {result.data}"
    assert result.data is None
    (error,) = result.errors
    return error.message, (error.extensions or {}).get("code")


async def a_shipment_of(clients, customer_id: str) -> tuple[str, str]:
    """(order id, tracking number) of one of the customer's booked orders."""
    async for order in clients.erp.orders(customer_id, page_size=50):
        bookings = await clients.tms.bookings_for_order(order.order_id)
        if bookings:
            return order.order_id, bookings[0].shipment.tracking_number
    pytest.fail(f"no order of {customer_id} has a booking")


def milestone(tracking_number: str, status: MilestoneStatus, hour: int) -> Milestone:
    occurred = datetime(2026, 11, 20, hour, 0, tzinfo=UTC)
    return Milestone(
        event_id=f"SWFT:{uuid.uuid4().hex}",
        tracking_number=tracking_number,
        status=status,
        occurred_at=occurred,
        carrier="SWFT",
        carrier_code=status.value[:2],
    )


def event(aggregate_type: str, aggregate_id: str, tenant: str | None, **payload) -> EventEnvelope:
    now = datetime.now(UTC)
    return EventEnvelope(
        event_id=f"test:{uuid.uuid4().hex}",
        event_type=payload.pop("event_type", f"{aggregate_type.lower()}.changed"),
        source=SourceSystem.GATEWAY,
        source_name="test",
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        occurred_at=now - timedelta(seconds=1),
        received_at=now,
        correlation_id="corr-live-test",
        tenant_id=tenant,
        payload=payload,
    )


async def test_each_milestone_once_in_rank_order_with_its_event_id(services, clients):
    _, tracking_number = await a_shipment_of(clients, "C-1001")
    stream = await subscribe(services, SHIPMENT, "C-1001", {"tn": tracking_number})
    in_transit = milestone(tracking_number, MilestoneStatus.IN_TRANSIT, 8)
    delivered = milestone(tracking_number, MilestoneStatus.DELIVERED, 12)
    late = milestone(tracking_number, MilestoneStatus.OUT_FOR_DELIVERY, 10)
    for batch in ([in_transit], [in_transit], [delivered], [late], [in_transit]):
        await services.recorder.record(batch)
    results = await stream.take(3)
    await stream.close()
    updates = [result.data["shipmentUpdated"] for result in results]
    assert [u["milestone"]["status"] for u in updates] == [
        "IN_TRANSIT",
        "DELIVERED",
        "OUT_FOR_DELIVERY",
    ], "each milestone once, the late one too, the duplicates never"
    statuses = [MilestoneStatus(u["status"]) for u in updates]
    assert statuses[-1] is MilestoneStatus.DELIVERED, "a late milestone never moves it back"
    ranks = [progress_rank(status) for status in statuses]
    assert ranks == sorted(ranks)
    assert all(u["shipment"] == {"trackingNumber": tracking_number} for u in updates)
    assert [r.extensions["eventId"] for r in results] == [u["eventId"] for u in updates]
    assert [int(u["eventId"]) for u in updates] == sorted(int(u["eventId"]) for u in updates)


async def test_a_reconnecting_subscriber_resumes_after_its_last_event_id(services, clients):
    _, tracking_number = await a_shipment_of(clients, "C-1001")
    stream = await subscribe(services, SHIPMENT, "C-1001", {"tn": tracking_number})
    steps = [MilestoneStatus.INFO_RECEIVED, MilestoneStatus.IN_TRANSIT]
    await services.recorder.record([milestone(tracking_number, steps[0], 7)])
    (seen,) = await stream.take(1)
    await stream.close()
    await services.recorder.record([milestone(tracking_number, steps[1], 8)])  # while away
    last_event_id = seen.extensions["eventId"]
    resumed = await subscribe(
        services, SHIPMENT, "C-1001", {"tn": tracking_number}, last_event_id=last_event_id
    )
    await services.recorder.record(
        [milestone(tracking_number, MilestoneStatus.OUT_FOR_DELIVERY, 9)]
    )
    results = await resumed.take(2)
    await resumed.close()
    assert [r.data["shipmentUpdated"]["milestone"]["status"] for r in results] == [
        "IN_TRANSIT",
        "OUT_FOR_DELIVERY",
    ], "what was missed, then live, nothing twice"
    assert int(results[0].extensions["eventId"]) > int(last_event_id)


async def test_an_orders_shipments_include_one_dispatched_after_subscribing(services, clients):
    order_id, tracking_number = await a_shipment_of(clients, "C-1001")
    stream = await subscribe(services, SHIPMENT, "C-1001", {"order": order_id})
    await services.recorder.record([milestone(tracking_number, MilestoneStatus.IN_TRANSIT, 8)])
    new_number = f"NEW{uuid.uuid4().hex[:10].upper()}"
    await services.live.hub.event_log.append(
        event(
            "Shipment",
            new_number,
            None,
            event_type="shipment.dispatched",
            order_id=order_id,
            tracking_number=new_number,
            carrier="SWFT",
        )
    )
    await services.recorder.record(
        [milestone(f"OTHER{uuid.uuid4().hex[:8]}", MilestoneStatus.IN_TRANSIT, 8)]
    )
    await services.recorder.record([milestone(new_number, MilestoneStatus.INFO_RECEIVED, 9)])
    results = await stream.take(3)
    await stream.close()
    updates = [r.data["shipmentUpdated"] for r in results]
    assert [(u["shipment"]["trackingNumber"], u["eventType"]) for u in updates] == [
        (tracking_number, "shipment.milestone"),
        (new_number, "shipment.dispatched"),
        (new_number, "shipment.milestone"),
    ]


async def test_another_tenants_shipment_or_order_is_answered_as_not_found(sqlite_services, clients):
    services = sqlite_services
    order_id, tracking_number = await a_shipment_of(clients, "C-1001")
    foreign = await first_error(services, SHIPMENT, "C-1002", {"tn": tracking_number})
    missing = await first_error(services, SHIPMENT, "C-1002", {"tn": "NOSUCHNUMBER1"})
    assert foreign == (f"no shipment {tracking_number}", "NOT_FOUND")
    assert missing == ("no shipment NOSUCHNUMBER1", "NOT_FOUND")
    assert await first_error(services, SHIPMENT, "C-1002", {"order": order_id}) == (
        f"no order {order_id}",
        "NOT_FOUND",
    )
    assert await first_error(services, ORDER, "C-1002", {"id": order_id}) == (
        f"no order {order_id}",
        "NOT_FOUND",
    )


async def test_an_event_stamped_with_another_tenant_is_never_delivered(services):
    sku = f"SKU-{uuid.uuid4().hex[:8]}"
    stream = await subscribe(services, INVENTORY, "C-1002", {"sku": sku})
    log = services.live.hub.event_log
    await log.append(event("InventoryPosition", f"WH1/A1/{sku}", "C-1001", sku=sku, on_hand="1"))
    await log.append(
        event("InventoryPosition", f"WH1/A1/{sku}", None, sku=sku, warehouse_id="WH1", on_hand="7")
    )
    (result,) = await stream.take(1)
    await stream.close()
    assert result.data["inventoryChanged"]["onHand"] == "7"
    assert result.data["inventoryChanged"]["item"] == {"sku": sku}


async def test_inventory_changes_of_one_warehouse(sqlite_services):
    services = sqlite_services
    sku = f"SKU-{uuid.uuid4().hex[:8]}"
    stream = await subscribe(services, INVENTORY, "C-1001", {"sku": sku, "wh": "WH2"})
    log = services.live.hub.event_log
    for warehouse, delta in (("WH1", "1"), ("WH2", "-2"), ("WH2", "3")):
        await log.append(
            event(
                "InventoryPosition",
                f"{warehouse}/B1/{sku}",
                None,
                event_type="inventory.adjusted",
                sku=sku,
                warehouse_id=warehouse,
                delta=delta,
            )
        )
    results = await stream.take(2)
    await stream.close()
    assert [r.data["inventoryChanged"]["delta"] for r in results] == ["-2", "3"]


async def test_a_bins_stock_is_reported_once_per_revision_and_never_backwards(sqlite_services):
    """A push and the sweep's copy of the same revision are one change; a late push of an
    older revision is not reported after a newer one."""
    services = sqlite_services
    sku = f"SKU-{uuid.uuid4().hex[:8]}"
    stream = await subscribe(services, INVENTORY, "C-1001", {"sku": sku, "wh": "WH1"})
    log = services.live.hub.event_log
    arrivals = (
        ("inventory.adjusted", 2, "8"),
        ("inventory.position", 2, "8"),
        ("inventory.adjusted", 1, "9"),
        ("inventory.adjusted", 3, "5"),
    )
    for event_type, revision, on_hand in arrivals:
        await log.append(
            event(
                "InventoryPosition",
                f"WH1/B1/{sku}",
                None,
                event_type=event_type,
                sku=sku,
                warehouse_id="WH1",
                bin="B1",
                on_hand=on_hand,
                revision=revision,
            )
        )
    results = await stream.take(2)
    await stream.close()
    assert [r.data["inventoryChanged"]["onHand"] for r in results] == ["8", "5"]


async def test_order_status_changes_of_the_callers_order(sqlite_services, clients):
    services = sqlite_services
    order_id, _ = await a_shipment_of(clients, "C-1001")
    stream = await subscribe(services, ORDER, "C-1001", {"id": order_id})
    await services.live.hub.event_log.append(event("Order", order_id, "C-1001", status="SHIPPED"))
    (result,) = await stream.take(1)
    await stream.close()
    change = result.data["orderStatusChanged"]
    assert (change["status"], change["order"], change["eventType"]) == (
        "SHIPPED",
        {"id": order_id},
        "order.changed",
    )
    assert result.extensions["eventId"] == change["eventId"]


async def test_a_workflow_reports_only_events_of_the_callers_tenant(services):
    workflow_id = f"wf-{uuid.uuid4().hex[:12]}"
    stream = await subscribe(services, WORKFLOW, "C-1001", {"id": workflow_id})
    log = services.live.hub.event_log
    for tenant, step in (("C-1002", "foreign"), (None, "untagged"), ("C-1001", "reserve")):
        await log.append(
            event(
                "Workflow",
                workflow_id,
                tenant,
                event_type="workflow.step_completed",
                step=step,
                state="COMPLETED",
            )
        )
    (result,) = await stream.take(1)
    await stream.close()
    assert result.data["workflowChanged"] == {
        "eventId": result.extensions["eventId"],
        "eventType": "workflow.step_completed",
        "step": "reserve",
        "state": "COMPLETED",
        "workflow": {"id": workflow_id},
    }


async def test_an_anonymous_caller_is_refused(sqlite_services):
    services = sqlite_services
    assert await first_error(services, WORKFLOW, None, {"id": "wf-1"}) == (
        "authentication required",
        "UNAUTHENTICATED",
    )


@pytest.mark.parametrize(
    ("query", "variables", "extra"),
    [
        (SHIPMENT, {}, {}),
        (SHIPMENT, {"tn": "SP1", "order": "SO-1"}, {}),
        (SHIPMENT, {"tn": "../etc/passwd"}, {}),
        (SHIPMENT, {"tn": "S" * 65}, {}),
        (SHIPMENT, {"order": "x" * 10_000}, {}),
        (ORDER, {"id": "SO 1"}, {}),
        (INVENTORY, {"sku": "SKU-1", "wh": "W/H"}, {}),
        (WORKFLOW, {"id": ""}, {}),
        (WORKFLOW, {"id": "wf-1"}, {"last_event_id": "abc"}),
        (WORKFLOW, {"id": "wf-1"}, {"last_event_id": "-1"}),
        (WORKFLOW, {"id": "wf-1"}, {"last_event_id": "9" * 400}),
    ],
)
async def test_malformed_or_oversized_arguments_are_the_callers_error(
    sqlite_services, query, variables, extra
):
    services = sqlite_services
    message, code = await first_error(services, query, "C-1001", variables, **extra)
    assert code == "BAD_USER_INPUT", message


async def test_resuming_further_back_than_a_replay_holds_is_refused(sqlite_services):
    services = sqlite_services
    log = services.live.hub.event_log
    for _ in range(60):  # max_replay is 50 here
        await log.append(event("Workflow", "wf-busy", "C-1001", step="s"))
    message, code = await first_error(
        services, WORKFLOW, "C-1001", {"id": "wf-1"}, last_event_id="0"
    )
    assert code == "BAD_USER_INPUT"
    assert "at most 50" in message


async def test_an_unreachable_event_log_is_a_clear_error(clients, stores, nats_url):
    log = await JetStreamEventLog.connect(
        nats_url,
        stream=f"LIVE_{uuid.uuid4().hex[:10].upper()}",
        subject_prefix=f"live.{uuid.uuid4().hex[:10]}",
    )
    await log._js.delete_stream(log._stream)
    await log.close()  # NATS is now out of reach for this log
    async with live_services(clients, dataclasses.replace(stores, event_log=log)) as services:
        message, code = await first_error(services, WORKFLOW, "C-1001", {"id": "wf-1"})
    assert code == "EVENT_LOG_UNAVAILABLE", message
