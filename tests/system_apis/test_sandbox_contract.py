"""Every client against the real reference backends: their answers map to the canonical model,
and writes with an idempotency key apply once."""

from __future__ import annotations

import uuid

import pytest

from domain import (
    Address,
    InvoiceStatus,
    MilestoneStatus,
    OrderStatus,
    Package,
    Weight,
    WeightUnit,
)
from system_apis import (
    BackendNotFound,
    BackendRejected,
    ErpClient,
    HeritageClient,
    RoadLineClient,
    SwiftParcelClient,
    TmsClient,
    WmsClient,
)
from system_apis.wms.models import AdjustmentReason, TaskState
from tests.sandbox_processes import Sandbox
from tests.system_apis.conftest import fast_settings

pytestmark = pytest.mark.sandbox


async def test_erp_orders_customers_items_and_invoices_map(sandbox: Sandbox) -> None:
    async with ErpClient.from_settings(fast_settings(sandbox, "erp")) as erp:
        customers = await erp.customers_page(limit=5)
        assert customers.items and customers.next_token
        customer = await erp.customer(customers.items[0].customer_id)
        orders = [order async for order in erp.orders(customer.customer_id, page_size=20)]
        assert orders and all(o.customer_id == customer.customer_id for o in orders)
        assert len({o.order_id for o in orders}) == len(orders)
        order = await erp.order(orders[0].order_id)
        assert order == orders[0]
        item = await erp.item(order.lines[0].sku)
        assert item.sku == order.lines[0].sku
        invoiced = next((o for o in orders if o.status is OrderStatus.INVOICED), None)
        if invoiced is not None:
            invoices = await erp.invoices_for_order(invoiced.order_id)
            assert invoices and invoices[0].order_id == invoiced.order_id
        with pytest.raises(BackendNotFound):
            await erp.order("SO-999999999")


async def test_erp_invoice_is_created_once_per_idempotency_key(sandbox: Sandbox) -> None:
    async with ErpClient.from_settings(fast_settings(sandbox, "erp")) as erp:
        shipped = None
        page = await erp.customers_page(limit=50)
        for customer in page.items:
            found = await erp.orders_page(customer.customer_id, status=OrderStatus.SHIPPED)
            if found.items:
                shipped = found.items[0]
                break
        assert shipped is not None, "the seed has shipped orders"
        key = f"invoice-{uuid.uuid4().hex}"
        first = await erp.create_invoice(shipped.order_id, idempotency_key=key)
        again = await erp.create_invoice(shipped.order_id, idempotency_key=key)
        assert first == again and first.status is InvoiceStatus.OPEN
        with pytest.raises(BackendRejected) as raised:
            await erp.create_invoice(shipped.order_id, idempotency_key=f"other-{key}")
        assert (raised.value.status_code, raised.value.reason) == (409, "conflict")
        assert "already invoiced" in raised.value.public_message


async def test_wms_inventory_tasks_confirmations_and_adjustments(sandbox: Sandbox) -> None:
    async with WmsClient.from_settings(fast_settings(sandbox, "wms")) as wms:
        page = await wms.inventory_page(warehouse_id="WH-AMS", limit=5)
        assert len(page.items) == 5 and page.next_token
        assert all(p.location.warehouse_id == "WH-AMS" for p in page.items)
        sku = page.items[0].sku
        positions = [p async for p in wms.inventory(sku=sku, page_size=1)]
        assert positions and all(p.sku == sku for p in positions)

        position = next(p for p in page.items if p.on_hand >= 2)
        key = f"adj-{uuid.uuid4().hex}"
        first = await wms.post_adjustment(
            position.location, position.sku, delta=-1, reason=AdjustmentReason.COUNT,
            idempotency_key=key,
        )  # fmt: skip
        again = await wms.post_adjustment(
            position.location, position.sku, delta=-1, reason=AdjustmentReason.COUNT,
            idempotency_key=key,
        )  # fmt: skip
        assert first.adjustment_id == again.adjustment_id
        assert first.position.on_hand == position.on_hand - 1

        open_task = None
        erp_order_ids = [f"SO-{100000 + n}" for n in range(1, 301)]
        for order_id in erp_order_ids:
            tasks = await wms.tasks_for_order(order_id)
            open_task = next((t for t in tasks if t.state is TaskState.OPEN), None)
            if open_task:
                break
        assert open_task is not None, "the seed has open tasks"
        key = f"confirm-{uuid.uuid4().hex}"
        done = await wms.confirm_task(
            open_task.task_id, quantity=open_task.quantity, operator="op-1", idempotency_key=key
        )
        repeat = await wms.confirm_task(
            open_task.task_id, quantity=open_task.quantity, operator="op-1", idempotency_key=key
        )
        assert done.state is TaskState.DONE and repeat == done
        assert (await wms.task(open_task.task_id)).state is TaskState.DONE


async def test_tms_rate_tender_bookings_and_label(sandbox: Sandbox) -> None:
    origin = Address("WH", "1 Dock", "Chicago", "60601", "US")
    destination = Address("Acme", "2 Main", "Memphis", "38103", "US")
    async with TmsClient.from_settings(fast_settings(sandbox, "tms")) as tms:
        quotes = await tms.rates(
            origin, destination, [Package("p1", Weight(12, WeightUnit.KILOGRAM), 40, 30, 20)]
        )
        assert quotes
        key = f"tender-{uuid.uuid4().hex}"
        booking = await tms.tender(quotes[0].quote_id, "SO-100001", idempotency_key=key)
        assert (await tms.tender(quotes[0].quote_id, "SO-100001", idempotency_key=key)) == booking
        shipment = booking.shipment
        assert shipment.order_id == "SO-100001" and shipment.carrier == quotes[0].carrier
        assert (await tms.booking(shipment.shipment_id)) == booking
        assert booking in await tms.bookings_for_order("SO-100001")
        if shipment.tracking_number:
            found = await tms.booking_by_tracking_number(shipment.tracking_number)
            assert found.shipment.shipment_id == shipment.shipment_id
        label = await tms.label(shipment.shipment_id)
        assert label.content
        with pytest.raises(BackendNotFound):
            await tms.booking_by_tracking_number("SP0000000000")


async def seeded_tracking_numbers(sandbox: Sandbox, carrier: str) -> list[str]:
    async with TmsClient.from_settings(fast_settings(sandbox, "tms")) as tms:
        numbers: list[str] = []
        for n in range(1, 301):
            for booking in await tms.bookings_for_order(f"SO-{100000 + n}"):
                if booking.shipment.carrier == carrier and booking.shipment.tracking_number:
                    numbers.append(booking.shipment.tracking_number)
            if len(numbers) >= 10:
                return numbers
    return numbers


async def test_swiftparcel_tracking_maps_every_seeded_event(sandbox: Sandbox) -> None:
    candidates = await seeded_tracking_numbers(sandbox, "SWFT")
    async with SwiftParcelClient.from_settings(fast_settings(sandbox, "swiftparcel")) as swift:
        for tracking in candidates:  # a booking not yet manifested is unknown to the carrier
            try:
                milestones = await swift.track(tracking)
            except BackendNotFound:
                continue
            break
        else:
            pytest.fail(f"none of {candidates} is known to SwiftParcel")
    assert milestones and all(m.tracking_number == tracking for m in milestones)
    assert milestones[0].status is MilestoneStatus.INFO_RECEIVED
    assert len({m.event_id for m in milestones}) == len(milestones)


async def test_roadline_feed_and_history_map_every_row(sandbox: Sandbox) -> None:
    async with RoadLineClient.from_settings(fast_settings(sandbox, "roadline")) as roadline:
        batch = await roadline.status_updates(limit=200)
        assert batch.milestones and not batch.rejected and batch.cursor
        pro = batch.milestones[0].tracking_number
        history = await roadline.shipment_milestones(pro)
        assert {m.event_id for m in history} >= {
            m.event_id for m in batch.milestones if m.tracking_number == pro
        }
        total = 0
        async for page in roadline.poll(batch.cursor, limit=500):
            assert not page.rejected
            total += len(page.milestones)
        assert total > 0


async def test_heritage_outbox_parses_every_interchange(sandbox: Sandbox) -> None:
    async with HeritageClient.from_settings(fast_settings(sandbox, "heritage")) as heritage:
        batch = await heritage.outbox()
        assert batch.milestones and batch.rejected == (), [r.reason for r in batch.rejected]
        assert batch.cursor is not None and int(batch.cursor) > 0
        later = await heritage.outbox(batch.cursor)
        assert later.cursor is not None and int(later.cursor) >= int(batch.cursor)
    assert all(m.occurred_at.utcoffset() is not None for m in batch.milestones)
    assert {m.carrier_code for m in batch.milestones} <= set(
        ["X3", "AF", "X6", "AG", "X1", "D1", "A7", "A9", "SD", "AP"]
    )
