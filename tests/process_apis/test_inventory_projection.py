"""The inventory read model as a projection of the event log: positions pushed by the WMS and
read from its listing land per SKU, warehouse and bin with every state apart, never move
backwards, survive a restart, and a rebuild from any point in time gives the same read model.

Runs on the embedded SQL log and on the real NATS JetStream log; the WMS's pushes go through
the real webhook parser.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from domain.events import EventEnvelope
from domain.inventory import InventoryPosition
from domain.locations import Location
from domain.units import UnitOfMeasure
from process_apis.consumers import runner_for
from process_apis.inventory import (
    MAX_POSITIONS,
    InvalidPageToken,
    InventoryQueries,
    TooManyPositions,
)
from process_apis.projections import build_projections, catch_up, rebuild
from process_apis.projections_inventory import INVENTORY
from stores import Stores, open_stores
from stores.inventory import PositionFact
from system_apis.wms.events import position_envelope
from system_apis.wms.webhooks import read_wms_webhook
from tests.conftest import fresh_postgres_database
from tests.process_apis.conftest import open_deployment

START = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


@pytest.fixture
def stores(logged_stores: Stores) -> Stores:
    return logged_stores


def position(
    sku: str, bin_code: str, revision: int, on_hand: int, *, warehouse: str = "WH-AMS"
) -> InventoryPosition:
    """A position whose counts follow from its revision, as one WMS state would."""
    return InventoryPosition(
        sku=sku,
        location=Location(warehouse, bin_code),
        unit=UnitOfMeasure.EACH,
        on_hand=Decimal(on_hand),
        allocated=Decimal(revision),
        in_transit=Decimal(12),
        quarantined=Decimal(revision % 3),
        returned=Decimal(1),
        updated_at=START + timedelta(minutes=revision),
        revision=revision,
    )


def read(held: InventoryPosition) -> EventEnvelope:
    """The position as the positions poller appends it."""
    return position_envelope(held, received_at=START, correlation_id="test")


def pushed(held: InventoryPosition, delta: int = -1, reason: str = "PICK") -> EventEnvelope:
    """The position as the WMS pushes it (`inventory.adjusted`), through the real parser."""
    data = {
        "warehouse": held.location.warehouse_id,
        "bin": held.location.bin,
        "sku": held.sku,
        "on_hand": int(held.on_hand),
        "allocated": int(held.allocated),
        "quarantine": int(held.quarantined),
        "in_transit": int(held.in_transit),
        "returned": int(held.returned),
        "uom": held.unit.value,
        "updated": held.updated_at.isoformat() if held.updated_at else None,
        "rev": held.revision,
        "delta": delta,
        "reason": reason,
    }
    body = {
        "event_id": f"evt_{uuid.uuid4().hex[:24]}",
        "type": "inventory.adjusted",
        "occurred_at": START.isoformat(),
        "warehouse": held.location.warehouse_id,
        "data": data,
    }
    return read_wms_webhook(orjson.dumps(body), {"X-WMS-Delivery": "dlv_test"})


async def a_skus_day(stores: Stores, sku: str) -> dict[str, InventoryPosition]:
    """Two bins of one SKU: read at start, then picks pushed, one late and one twice; the
    newest revision of each bin is returned."""
    a1, a2, a3 = (position(sku, "A-01-01", revision, 100 - revision) for revision in (1, 2, 3))
    b1, b4 = position(sku, "B-02-01", 1, 40), position(sku, "B-02-01", 4, 36)
    for envelope in (read(a1), read(b1), pushed(a3), pushed(a2), read(a3), pushed(b4)):
        await stores.event_log.append(envelope)
    late = pushed(a2)
    await stores.event_log.append(late)
    await stores.event_log.append(late)  # redelivered: the log keeps it once
    return {"A-01-01": a3, "B-02-01": b4}


async def held_positions(stores: Stores, skus: list[str]) -> dict[str, list[InventoryPosition]]:
    queries = InventoryQueries(stores.inventory)
    return {sku: list(await queries.positions(sku)) for sku in skus}


async def test_positions_read_and_pushed_land_per_bin_and_never_move_backwards(
    stores: Stores,
) -> None:
    sku = f"SKU-{uuid.uuid4().hex[:8]}"
    newest = await a_skus_day(stores, sku)
    assert await InventoryQueries(stores.inventory).positions(sku) == (), "the log only"
    await catch_up(runner_for(stores), build_projections(stores))

    held = (await held_positions(stores, [sku]))[sku]
    assert [p.location.bin for p in held] == ["A-01-01", "B-02-01"]
    assert held == [newest["A-01-01"], newest["B-02-01"]], "the highest revision of each bin"
    bin_a = held[0]
    assert (bin_a.on_hand, bin_a.allocated, bin_a.available_to_promise) == (97, 3, 94)
    assert (bin_a.in_transit, bin_a.quarantined, bin_a.returned) == (12, 0, 1)


async def test_inventory_pages_by_warehouse_and_bin_without_gap_or_repeat(
    stores: Stores,
) -> None:
    sku = f"SKU-{uuid.uuid4().hex[:8]}"
    bins = [("WH-RTM", "A-01-01"), ("WH-AMS", "C-01-01"), ("WH-AMS", "A-02-01")]
    for warehouse, bin_code in bins:
        await stores.event_log.append(read(position(sku, bin_code, 1, 5, warehouse=warehouse)))
    await catch_up(runner_for(stores), build_projections(stores))
    queries = InventoryQueries(stores.inventory)
    first = await queries.positions_page(sku, None, first=2, after=None)
    assert first.next_token is not None
    await stores.event_log.append(read(position(sku, "A-00-01", 1, 5)))  # sorts before the cursor
    await catch_up(runner_for(stores), build_projections(stores))
    second = await queries.positions_page(sku, None, first=2, after=first.next_token)
    assert second.next_token is None
    seen = [(p.location.warehouse_id, p.location.bin) for p in (*first.items, *second.items)]
    assert seen == sorted(bins), seen
    in_rotterdam = await queries.positions_page(sku, "WH-RTM", first=5, after=None)
    assert [p.location.bin for p in in_rotterdam.items] == ["A-01-01"]
    for token in ("dGVzdA==", "[1, 2]", '["WH-AMS"]', "{}"):  # e.g. a WMS cursor of old
        with pytest.raises(InvalidPageToken):
            await queries.positions_page(sku, None, first=2, after=token)


async def test_the_inventory_projection_resumes_at_its_position_after_a_restart(
    tmp_path: Path, log_url: str, namespace: dict[str, str], stores: Stores
) -> None:
    first_sku = f"SKU-{uuid.uuid4().hex[:8]}"
    await a_skus_day(stores, first_sku)
    await catch_up(runner_for(stores), build_projections(stores))
    kept = await stores.positions.get(INVENTORY)
    assert kept > 0
    second_sku = f"SKU-{uuid.uuid4().hex[:8]}"
    newest = await a_skus_day(stores, second_sku)  # appended, not projected

    restarted = await open_deployment(tmp_path / "gateway.sqlite3", log_url, namespace)
    try:
        assert await restarted.positions.get(INVENTORY) == kept, "the position survives"
        await catch_up(runner_for(restarted), build_projections(restarted))
        held = (await held_positions(restarted, [second_sku]))[second_sku]
        assert held == list(newest.values())
        assert await restarted.positions.get(INVENTORY) > kept
    finally:
        await restarted.close()


async def test_a_rebuild_from_any_point_in_time_gives_the_same_inventory(stores: Stores) -> None:
    skus = [f"SKU-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    for sku in skus:
        await a_skus_day(stores, sku)
    runner = runner_for(stores)
    projections = build_projections(stores)
    await catch_up(runner, projections)
    followed = await held_positions(stores, skus)
    (inventory,) = [p for p in projections if p.name == INVENTORY]
    events = await stores.event_log.read(limit=1000)

    for from_position in (*(event.position for event in events[1::4]), 0):
        end = await rebuild(runner, inventory, from_position)
        assert end == events[-1].position
        assert await held_positions(stores, skus) == followed, f"from {from_position}"


async def test_a_rebuild_forgets_the_positions_later_events_brought(stores: Stores) -> None:
    sku = f"SKU-{uuid.uuid4().hex[:8]}"
    newest = await a_skus_day(stores, sku)
    projections = build_projections(stores)
    await catch_up(runner_for(stores), projections)
    (inventory,) = [p for p in projections if p.name == INVENTORY]
    events = await stores.event_log.read(limit=1000)
    await inventory.forget_after(events[4].position)  # after bin A's rev 3, before bin B's rev 4
    held = (await held_positions(stores, [sku]))[sku]
    assert held == [newest["A-01-01"]], held


async def test_on_postgresql_the_read_model_keeps_the_same_rule_and_rebuilds_the_same() -> None:
    """The scale-out SQL engine: PostgreSQL holds the read model and the log (a database of
    this test's own: consumer positions are per database, and other tests' deployments follow
    other logs from theirs)."""
    with fresh_postgres_database() as database_url:
        await on_postgresql(database_url)


async def on_postgresql(database_url: str) -> None:
    stores = await open_stores(database_url)
    try:
        skus = [f"SKU-{uuid.uuid4().hex[:8]}" for _ in range(2)]
        newest = [await a_skus_day(stores, sku) for sku in skus]
        runner = runner_for(stores)
        projections = build_projections(stores)
        await catch_up(runner, projections)
        followed = await held_positions(stores, skus)
        assert [followed[sku] for sku in skus] == [list(n.values()) for n in newest]
        revisions = await stores.inventory.revisions(
            [("WH-AMS", "A-01-01", skus[0]), ("WH-AMS", "Z-00-00", skus[0])]
        )
        assert revisions == {("WH-AMS", "A-01-01", skus[0]): 3}
        (inventory,) = [p for p in projections if p.name == INVENTORY]
        events = await stores.event_log.read(limit=1000)
        await rebuild(runner, inventory, events[len(events) // 2].position)
        assert await held_positions(stores, skus) == followed
    finally:
        await stores.close()


async def test_a_sku_in_more_bins_than_one_answer_holds_is_said_so_and_pages_through(
    tmp_path: Path,
) -> None:
    stores = await open_stores(f"sqlite+aiosqlite:///{tmp_path / 'bins.sqlite3'}")
    try:
        sku = f"SKU-{uuid.uuid4().hex[:8]}"
        bins = [f"A-{n:04d}" for n in range(MAX_POSITIONS + 1)]
        await stores.inventory.record(
            PositionFact(position(sku, bin_code, 1, 2), index + 1)
            for index, bin_code in enumerate(bins)
        )
        elsewhere = [position(sku, f"R-{n}", 1, 2, warehouse="WH-RTM") for n in range(2)]
        await stores.inventory.record(PositionFact(p, 1000 + n) for n, p in enumerate(elsewhere))
        queries = InventoryQueries(stores.inventory)
        with pytest.raises(TooManyPositions) as refused:
            await queries.positions(sku)
        assert f"more than {MAX_POSITIONS} bins" in refused.value.public_message
        assert list(await queries.positions(sku, "WH-RTM")) == elsewhere, "one warehouse's fits"
        first = await queries.positions_page(sku, "WH-AMS", first=MAX_POSITIONS, after=None)
        after = first.next_token
        second = await queries.positions_page(sku, "WH-AMS", first=MAX_POSITIONS, after=after)
        assert [p.location.bin for p in (*first.items, *second.items)] == bins
        assert second.next_token is None
    finally:
        await stores.close()
