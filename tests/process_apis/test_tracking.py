"""Shipment tracking from the read models, over the real backends: bookings polled from the TMS,
carrier histories brought in, tenants kept apart, answers while the TMS and carriers are down."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from process_apis.polling import BookingPoller, PollOutcome, build_pollers
from process_apis.services import LogisticsServices, build_services
from process_apis.visibility import NotFound
from stores import Stores, open_stores
from stores.cache import open_cache
from system_apis import SystemClients
from system_apis.tms.models import BookingStatus
from tests.process_apis.conftest import project, sandbox_settings
from tests.sandbox_processes import Sandbox


@dataclass
class Ingested:
    stores: Stores
    clients: SystemClients
    services: LogisticsServices
    bookings: BookingPoller
    first_round: PollOutcome


@pytest.fixture(scope="module")
async def ingested(
    sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Ingested]:
    """One store for the module, into which the TMS's bookings were polled and projected."""
    directory = tmp_path_factory.mktemp("tracking")
    stores = await open_stores(f"sqlite+aiosqlite:///{directory / 'gateway.sqlite3'}")
    cache = open_cache("memory", namespace="tracking-test")
    names = ("erp", "wms", "tms", "swiftparcel", "roadline", "heritage")
    async with SystemClients.from_settings(
        **{name: sandbox_settings(sandbox, name) for name in names}
    ) as clients:
        services = build_services(clients, stores, cache)
        pollers = build_pollers(clients, stores, services.recorder, owners=services.owners)
        (bookings,) = [p for p in pollers if isinstance(p, BookingPoller)]
        first_round = await bookings.poll_once()
        await project(stores)
        yield Ingested(stores, clients, services, bookings, first_round)
    await cache.close()
    await stores.close()


async def an_order_with_shipments(clients: SystemClients, customer_id: str) -> tuple[str, str]:
    """An order of the customer with a SwiftParcel parcel under way: its id and tracking number."""
    async for order in clients.erp.orders(customer_id, page_size=50):
        for booking in await clients.tms.bookings_for_order(order.order_id):
            if booking.shipment.carrier == "SWFT" and booking.status is BookingStatus.BOOKED:
                return order.order_id, booking.shipment.tracking_number
    pytest.fail(f"no order of {customer_id} has a SwiftParcel booking")


async def test_the_booking_feed_records_each_booking_once_with_its_tenant(
    ingested: Ingested,
) -> None:
    assert ingested.first_round.recorded > 0 and ingested.first_round.drained
    again = await ingested.bookings.poll_once()
    assert again.recorded == 0, "a re-read page is all duplicates"
    order_id, _ = await an_order_with_shipments(ingested.clients, "C-1001")
    records = (await ingested.stores.shipments.for_orders([order_id]))[order_id]
    booked = await ingested.clients.tms.bookings_for_order(order_id)
    assert sorted(r.tracking_number for r in records) == sorted(
        b.shipment.tracking_number for b in booked if b.shipment.tracking_number
    )
    assert {r.tenant_id for r in records} == {"C-1001"}


async def test_an_orders_shipments_are_tracked_for_its_owner_only(ingested: Ingested) -> None:
    tracking = ingested.services.tracking
    order_id, _ = await an_order_with_shipments(ingested.clients, "C-1001")
    mine = await tracking.for_order("C-1001", order_id)
    assert mine and all(t.shipment.order_id == order_id for t in mine)
    assert all(t.shipment.customer_id == "C-1001" for t in mine)
    assert any(t.shipment.milestones for t in mine), "carrier histories were brought in"
    assert await tracking.for_order("C-1002", order_id) == ()


async def test_a_foreign_or_unknown_tracking_number_is_not_found(ingested: Ingested) -> None:
    tracking = ingested.services.tracking
    _, number = await an_order_with_shipments(ingested.clients, "C-1001")
    found = await tracking.by_tracking_number("C-1001", number)
    assert found.shipment.tracking_number == number
    with pytest.raises(NotFound):
        await tracking.by_tracking_number("C-1002", number)
    with pytest.raises(NotFound):
        await tracking.by_tracking_number("C-1001", "SP0000000000")


async def test_shipments_answer_while_the_tms_and_the_carriers_are_down(
    ingested: Ingested, clean_faults: Sandbox
) -> None:
    order_id, number = await an_order_with_shipments(ingested.clients, "C-1001")
    for backend in ("tms", "swiftparcel", "roadline", "heritage"):
        await clean_faults.aset_faults(backend, outage=True)
    tracking = ingested.services.tracking
    shipments = await tracking.for_order("C-1001", order_id)
    assert shipments, "answered from the read models"
    swift = next(t for t in shipments if t.shipment.tracking_number == number)
    single = await tracking.by_tracking_number("C-1001", number)
    assert single.shipment.status == swift.shipment.status
    assert single.shipment.milestones and single.position > 0
