"""Shipment tracking over the real backends: one view per shipment, tenants kept apart."""

from __future__ import annotations

import pytest

from process_apis.services import build_services
from process_apis.visibility import NotFound
from stores.cache import open_cache


@pytest.fixture
async def tracking(clients, stores):
    cache = open_cache("memory", namespace="tracking-test")
    yield build_services(clients, stores, cache).tracking
    await cache.close()


async def an_order_with_shipments(clients, customer_id: str) -> str:
    async for order in clients.erp.orders(customer_id, page_size=50):
        if await clients.tms.bookings_for_order(order.order_id):
            return order.order_id
    pytest.fail(f"no order of {customer_id} has a booking")


async def test_an_orders_shipments_are_tracked_for_its_owner_only(tracking, clients):
    order_id = await an_order_with_shipments(clients, "C-1001")
    mine = await tracking.for_order("C-1001", order_id)
    assert mine and all(t.shipment.order_id == order_id for t in mine)
    assert all(t.shipment.customer_id == "C-1001" for t in mine)
    assert await tracking.for_order("C-1002", order_id) == ()


async def test_a_foreign_tracking_number_is_not_found(tracking, clients):
    order_id = await an_order_with_shipments(clients, "C-1001")
    tracking_number = (await clients.tms.bookings_for_order(order_id))[0].shipment.tracking_number
    found = await tracking.by_tracking_number("C-1001", tracking_number)
    assert found.shipment.tracking_number == tracking_number
    with pytest.raises(NotFound):
        await tracking.by_tracking_number("C-1002", tracking_number)
