"""Read models as projections of the event log: acceptance writes the log only, the milestone
history, the shipments and the orders read models follow it, keep their position across a
restart, and a rebuild from any point in time gives the same read model.

Runs on the embedded SQL log and on the real NATS JetStream log.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from domain.events import EventEnvelope, SourceSystem
from domain.orders import Order, OrderLine, OrderStatus
from domain.parties import Address
from domain.shipments import Milestone, MilestoneStatus, Package, Shipment, current_milestone
from domain.units import Money, Quantity, UnitOfMeasure, Weight, WeightUnit
from process_apis.consumers import ConsumerBusy, runner_for
from process_apis.projections import build_projections, catch_up, rebuild
from process_apis.projections_milestones import MILESTONE_HISTORY
from process_apis.projections_orders import ORDERS
from process_apis.projections_shipments import SHIPMENTS
from process_apis.tracking import MilestoneRecorder
from stores import Stores
from system_apis.erp.changes import OrderChange
from system_apis.erp.events import order_changed_envelope
from system_apis.tms.events import booked_envelope
from system_apis.tms.models import Booking, BookingStatus
from tests.process_apis.conftest import open_deployment

START = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


@pytest.fixture
def stores(logged_stores: Stores) -> Stores:
    return logged_stores


def milestone(tracking: str, status: MilestoneStatus, hours: float, code: str) -> Milestone:
    occurred = START + timedelta(hours=hours)
    return Milestone(
        event_id=f"SWFT:{tracking}:{code}:{hours}",
        tracking_number=tracking,
        status=status,
        occurred_at=occurred,
        carrier="SWFT",
        carrier_code=code,
        carrier_description=status.value.lower(),
    )


def booking(tracking: str, order_id: str, booking_id: str) -> Booking:
    shipment = Shipment(
        shipment_id=booking_id,
        order_id=order_id,
        customer_id="",
        carrier="SWFT",
        service="EXPRESS",
        tracking_number=tracking,
        packages=(Package(f"{booking_id}-1", Weight("2.5", WeightUnit.KILOGRAM), 40, 30, 30),),
    )
    return Booking(shipment, BookingStatus.BOOKED, Money("9.95", "EUR"), START)


def dispatched(tracking: str, order_id: str) -> EventEnvelope:
    return EventEnvelope(
        event_id=f"WMS:dispatch-{tracking}",
        event_type="shipment.dispatched",
        source=SourceSystem.WMS,
        source_name="WMS",
        aggregate_type="Shipment",
        aggregate_id=tracking,
        occurred_at=START,
        received_at=START,
        correlation_id="test",
        payload={"order_id": order_id, "tracking_number": tracking, "carrier": "SWFT"},
    )


async def a_shipments_life(stores: Stores, tracking: str, order_id: str) -> list[Milestone]:
    """Booked, dispatched, then carrier events: delivered, a late in-transit and a duplicate."""
    await stores.event_log.append(
        booked_envelope(
            booking(tracking, order_id, f"BK-{tracking}"),
            tenant_id="C-1001",
            received_at=START,
            correlation_id="test",
        )
    )
    await stores.event_log.append(dispatched(tracking, order_id))
    recorder = MilestoneRecorder(stores.event_log)
    sent = [
        milestone(tracking, MilestoneStatus.INFO_RECEIVED, 0, "MF"),
        milestone(tracking, MilestoneStatus.DELIVERED, 30, "DL"),
        milestone(tracking, MilestoneStatus.IN_TRANSIT, 5, "IT"),
    ]
    await recorder.record(sent[:2])
    await recorder.record(sent[1:])  # DL again (a duplicate) and a late IT
    return sent


def order_change(order_id: str, number: int, status: OrderStatus) -> OrderChange:
    changed_at = START + timedelta(minutes=number)
    order = Order(
        order_id=order_id,
        customer_id="C-1001",
        status=status,
        ship_to=Address("Acme BV", "Damrak 1", "Amsterdam", "1012 LG", "NL"),
        ordered_on=START.date(),
        requested_delivery_on=None,
        currency="EUR",
        lines=(
            OrderLine(10, "MAT-0001", Quantity("2", UnitOfMeasure.EACH), Money("1.5", "EUR"), "WH"),
        ),
        changed_at=changed_at,
    )
    return OrderChange(change_number=number, order=order, changed_at=changed_at)


async def an_orders_life(stores: Stores, order_id: str, first_change: int) -> None:
    """Entered, released, shipped; then the release again, read anew past the log's
    deduplication (so under another event id): it must not move the order backwards."""
    statuses = (OrderStatus.OPEN, OrderStatus.RELEASED, OrderStatus.SHIPPED)
    for offset, status in enumerate(statuses):
        change = order_change(order_id, first_change + offset, status)
        await stores.event_log.append(
            order_changed_envelope(change, received_at=START, correlation_id="test")
        )
    reread = order_changed_envelope(
        order_change(order_id, first_change + 1, OrderStatus.RELEASED),
        received_at=START,
        correlation_id="test",
    )
    await stores.event_log.append(replace(reread, event_id=f"{reread.event_id}:again"))


async def snapshot(stores: Stores, trackings: list[str], orders: list[str]) -> tuple:
    histories = await stores.milestones.histories(trackings)
    shipments = await stores.shipments.for_orders(orders)
    held = {order_id: await stores.orders.by_id(order_id) for order_id in orders}
    return (
        {number: [m.event_id for m in history] for number, history in histories.items()},
        {order: [replace(r, position=0) for r in found] for order, found in shipments.items()},
        {order_id: (s.order, s.change_number) if s else None for order_id, s in held.items()},
    )


async def test_acceptance_writes_the_log_only_and_the_projections_bring_the_history(
    stores: Stores,
) -> None:
    tracking, order_id = f"SP{uuid.uuid4().int % 10**10:010d}", "SO-777001"
    outcome = await MilestoneRecorder(stores.event_log).record(
        [milestone(tracking, MilestoneStatus.INFO_RECEIVED, 0, "MF")]
    )
    assert len(outcome.recorded) == 1
    assert await stores.milestones.history(tracking) == (), "nothing but the log is written"

    sent = await a_shipments_life(stores, tracking, order_id)
    runner = runner_for(stores)
    await catch_up(runner, build_projections(stores))

    history = await stores.milestones.history(tracking)
    assert sorted(m.event_id for m in history) == sorted(m.event_id for m in sent)
    current = current_milestone(history)
    assert current is not None and current.status is MilestoneStatus.DELIVERED, "never backwards"
    record = await stores.shipments.by_tracking_number(tracking)
    assert record is not None
    assert (record.order_id, record.tenant_id, record.carrier, record.booking_id) == (
        order_id,
        "C-1001",
        "SWFT",
        f"BK-{tracking}",
    )
    assert record.packages[0]["weight_kg"] == "2.5"


async def test_projections_resume_at_their_position_after_a_restart(
    tmp_path: Path, log_url: str, namespace: dict[str, str], stores: Stores
) -> None:
    first_tracking = f"SP{uuid.uuid4().int % 10**10:010d}"
    await a_shipments_life(stores, first_tracking, "SO-777002")
    await catch_up(runner_for(stores), build_projections(stores))
    kept = {name: await stores.positions.get(name) for name in (MILESTONE_HISTORY, SHIPMENTS)}
    assert all(position > 0 for position in kept.values()), kept

    second_tracking = f"SP{uuid.uuid4().int % 10**10:010d}"
    await a_shipments_life(stores, second_tracking, "SO-777003")  # appended, not projected

    restarted = await open_deployment(tmp_path / "gateway.sqlite3", log_url, namespace)
    try:
        assert {n: await restarted.positions.get(n) for n in kept} == kept, "positions survive"
        await catch_up(runner_for(restarted), build_projections(restarted))
        history = await restarted.milestones.history(second_tracking)
        assert len(history) == 3, "the restart projected what was left"
        assert await restarted.shipments.by_tracking_number(second_tracking) is not None
        moved = {n: await restarted.positions.get(n) for n in kept}
        assert all(moved[n] > kept[n] for n in kept), (kept, moved)
    finally:
        await restarted.close()


async def test_a_rebuild_from_any_point_in_time_gives_the_same_read_models(
    stores: Stores,
) -> None:
    trackings = [f"SP{uuid.uuid4().int % 10**10:010d}" for _ in range(3)]
    orders = [f"SO-7780{n}" for n in range(3)]
    for number, (tracking, order_id) in enumerate(zip(trackings, orders, strict=True)):
        await an_orders_life(stores, order_id, first_change=10 * number + 1)
        await a_shipments_life(stores, tracking, order_id)
    runner = runner_for(stores)
    projections = build_projections(stores)
    await catch_up(runner, projections)
    followed = await snapshot(stores, trackings, orders)
    assert all(
        held is not None and held[0].status is OrderStatus.SHIPPED for held in followed[2].values()
    ), followed[2]
    events = await stores.event_log.read(limit=1000)
    midway = events[len(events) // 2].position

    for from_position in (midway, 0):
        for projection in projections:
            end = await rebuild(runner, projection, from_position)
            assert end == events[-1].position
        assert await snapshot(stores, trackings, orders) == followed, f"from {from_position}"


async def test_a_rebuild_forgets_what_came_after_its_point_before_replaying(
    stores: Stores,
) -> None:
    """Forgetting is real: between the forgetting and the replay, later events are gone."""
    tracking = f"SP{uuid.uuid4().int % 10**10:010d}"
    await a_shipments_life(stores, tracking, "SO-778100")
    runner = runner_for(stores)
    named = {projection.name: projection for projection in build_projections(stores)}
    history_projection, shipments_projection = named[MILESTONE_HISTORY], named[SHIPMENTS]
    await catch_up(runner, [history_projection, shipments_projection])
    events = await stores.event_log.read(limit=1000)
    booked_at = next(e.position for e in events if e.envelope.event_type == "shipment.booked")
    await history_projection.forget_after(booked_at)
    await shipments_projection.forget_after(booked_at)
    assert await stores.milestones.history(tracking) == ()
    record = await stores.shipments.by_tracking_number(tracking)
    assert record is not None and record.booking_id is not None, "the booking was before"
    assert record.position == booked_at, "the dispatch came after and is forgotten"


async def test_a_rebuild_is_refused_while_another_process_applies_the_projection(
    stores: Stores,
) -> None:
    projection = build_projections(stores)[0]
    await stores.leases.acquire(f"consumer:{projection.name}", "another-process", 30)
    tracking = f"SP{uuid.uuid4().int % 10**10:010d}"
    await a_shipments_life(stores, tracking, "SO-778200")
    with pytest.raises(ConsumerBusy):
        await rebuild(runner_for(stores), projection, 0)
    assert await stores.milestones.history(tracking) == (), "nothing was touched"


async def test_the_orders_read_model_keeps_the_latest_change_and_never_moves_backwards(
    stores: Stores,
) -> None:
    order_id = f"SO-{uuid.uuid4().int % 10**8:08d}"
    await an_orders_life(stores, order_id, first_change=1)
    runner = runner_for(stores)
    projection = {p.name: p for p in build_projections(stores)}[ORDERS]
    await catch_up(runner, [projection])
    held = await stores.orders.by_id(order_id)
    assert held is not None
    assert (held.order.status, held.change_number) == (OrderStatus.SHIPPED, 3), "the latest"
    assert held.order.lines[0].quantity.value == 2 and held.order.changed_at is not None
    events = await stores.event_log.read(limit=1000)
    await projection.apply(events)  # applied twice after a crash: nothing changes
    assert await stores.orders.by_id(order_id) == held
    assert await stores.positions.get(ORDERS) == events[-1].position

    released_at = next(e.position for e in events if e.envelope.payload.get("change_number") == 2)
    await projection.forget_after(released_at)
    forgotten = await stores.orders.by_id(order_id)
    assert forgotten is None, "the shipped change came later and is forgotten with its row"
    await rebuild(runner, projection, released_at)
    assert await stores.orders.by_id(order_id) == held


async def test_the_orders_read_model_pages_a_tenant_newest_first_by_keyset(
    stores: Stores,
) -> None:
    ids = [f"SO-9{n:05d}" for n in range(5)]
    for number, order_id in enumerate(ids):
        change = order_change(order_id, number + 1, OrderStatus.OPEN)
        if number == 2:
            change = replace(change, order=replace(change.order, customer_id="C-1002"))
        await stores.event_log.append(
            order_changed_envelope(change, received_at=START, correlation_id="test")
        )
    await catch_up(runner_for(stores), build_projections(stores))
    first = await stores.orders.page("C-1001", first=2, after=None)
    assert [s.order.order_id for s in first.orders] == [ids[4], ids[3]]
    assert first.next_key is not None
    second = await stores.orders.page("C-1001", first=2, after=first.next_key)
    assert [s.order.order_id for s in second.orders] == [ids[1], ids[0]]
    assert second.next_key is None, "the tenant has no more orders"
    assert [
        s.order.order_id for s in (await stores.orders.page("C-1002", first=9, after=None)).orders
    ] == [ids[2]]
