"""The WMS's stock listing swept into the event log, against the reference WMS (a process).

The first sweep brings every position (so the read model holds the ones that never changed),
later sweeps append only what changed, a position the WMS cannot describe becomes a dead letter
without holding the sweep up, and one process sweeps at a time (the feed's lease). The bad
record comes from a stand-in listing served through the real mapper: the reference WMS only
lists well-formed positions.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from domain.inventory import position_from_record, position_record
from process_apis.inventory import InventoryQueries
from process_apis.polling import FeedLease
from process_apis.polling_positions import (
    WMS_POSITIONS,
    PositionPoller,
    build_position_poller,
)
from stores import Stores
from stores.inventory import PositionFact
from system_apis import SystemClients
from system_apis.wms.events import POSITION_EVENT_TYPE
from system_apis.wms.mapping import position_batch_from_wms, position_from_wms
from system_apis.wms.models import PositionBatch
from tests.process_apis.conftest import project

if TYPE_CHECKING:
    from tests.sandbox_processes import Sandbox


def wms_listing(sandbox: Sandbox) -> list[dict[str, Any]]:
    """Every position as the WMS lists it now, read directly."""
    found: list[dict[str, Any]] = []
    cursor = None
    with httpx.Client(base_url=sandbox.wms, headers=sandbox.headers("wms"), timeout=10) as wms:
        for _ in range(100):
            page = wms.get("/v2/inventory", params={"limit": 500, "cursor": cursor}).json()
            found += page["data"]
            cursor = page["cursor"]
            if cursor is None:
                return found
    raise AssertionError("the WMS listing did not end")


def adjust(sandbox: Sandbox, warehouse: str, bin_code: str, sku: str, delta: int) -> dict:
    response = httpx.post(
        f"{sandbox.wms}/v2/adjustments",
        json={
            "warehouse": warehouse,
            "bin": bin_code,
            "sku": sku,
            "delta": delta,
            "reason": "FOUND",
        },
        headers={**sandbox.headers("wms"), "Idempotency-Key": f"test-{uuid.uuid4()}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()["position"]


async def test_the_first_sweep_brings_every_position_and_later_ones_only_what_changed(
    sandbox: Sandbox, clients: SystemClients, logged_stores: Stores
) -> None:
    """On the SQL log and on JetStream (a page's positions are appended at once)."""
    stores = logged_stores
    poller = build_position_poller(clients, stores)
    started = time.monotonic()
    first = await poller.poll_once()
    swept_s = time.monotonic() - started
    listed = wms_listing(sandbox)
    assert first.drained and first.rejected == 0, first
    assert len(listed) - 5 <= first.recorded <= len(listed), (first, len(listed))
    assert await stores.cursors.get(WMS_POSITIONS) == "", "after the last page: from the top"
    events = await stores.event_log.read(limit=10)
    assert {event.envelope.event_type for event in events} == {POSITION_EVENT_TYPE}
    assert await stores.inventory.page("MAT-0001", None, after=None, limit=10) == [], "log only"

    await project(stores)
    sample = listed[len(listed) // 2]
    held = await InventoryQueries(stores.inventory).positions(sample["sku"], sample["warehouse"])
    assert sample["bin"] in {position.location.bin for position in held}, (sample, held)
    again = await poller.poll_once()
    assert again.recorded <= 5, f"only what changed meanwhile is appended again: {again}"

    sku = f"SKU-{uuid.uuid4().hex[:10]}"
    changed = adjust(sandbox, "WH-AMS", "Z-99-01", sku, 7)  # no push reaches these stores
    assert await InventoryQueries(stores.inventory).positions(sku) == ()
    found = await poller.poll_once()
    assert found.recorded >= 1, found
    await project(stores)
    (position,) = await InventoryQueries(stores.inventory).positions(sku)
    assert (position.on_hand, position.revision) == (7, changed["rev"])
    assert swept_s < 30, f"a first sweep of {len(listed)} positions took {swept_s:.1f}s"


class StandInListing:
    """Two pages of the WMS's listing in its own format, served through the real mapper; the
    second holds a record no store could keep (a SKU longer than any key)."""

    def __init__(self) -> None:
        self.pages = {
            None: {"data": [self.record("SKU-A", 3)], "cursor": "p2"},
            "p2": {"data": [self.record("X" * 200, 4), self.record("SKU-B", 5)], "cursor": None},
        }

    @staticmethod
    def record(sku: str, on_hand: int) -> dict[str, Any]:
        return {
            "warehouse": "WH-AMS",
            "bin": "A-01-01",
            "sku": sku,
            "on_hand": on_hand,
            "allocated": 1,
            "quarantine": 0,
            "in_transit": 0,
            "returned": 0,
            "uom": "EA",
            "updated": "2026-11-20T08:00:00Z",
            "rev": 2,
        }

    async def fetch(self, after: str | None) -> PositionBatch:
        return position_batch_from_wms(self.pages[after])


def stand_in_poller(stores: Stores, lease: FeedLease | None = None) -> PositionPoller:
    return PositionPoller(
        fetch=StandInListing().fetch,
        event_log=stores.event_log,
        known=stores.inventory.revisions,
        dead_letters=stores.dead_letters,
        cursors=stores.cursors,
        lease=lease,
    )


async def test_a_position_the_wms_cannot_describe_becomes_a_dead_letter_once(
    stores: Stores,
) -> None:
    poller = stand_in_poller(stores)
    outcome = await poller.poll_once()
    assert (outcome.recorded, outcome.rejected, outcome.drained) == (2, 1, True), outcome
    (letter,) = await stores.dead_letters.list(source=WMS_POSITIONS)
    assert b"X" * 200 in letter.body and "longer than 64" in letter.reason, letter.reason
    await project(stores)
    skus = ("SKU-A", "SKU-B")
    held = [await InventoryQueries(stores.inventory).positions(sku) for sku in skus]
    assert [[p.on_hand for p in found] for found in held] == [[3], [5]]
    again = await poller.poll_once()
    assert (again.recorded, again.duplicates, again.rejected) == (0, 2, 1), again
    assert len(await stores.dead_letters.list(source=WMS_POSITIONS)) == 1, "kept once"


async def test_one_process_sweeps_at_a_time(stores: Stores) -> None:
    ours = FeedLease(stores.leases, "this-process", ttl_s=30)
    theirs = FeedLease(stores.leases, "another-process", ttl_s=30)
    assert await theirs.hold(WMS_POSITIONS)
    outcome = await stand_in_poller(stores, ours).poll_once()
    assert not outcome.held and outcome.recorded == 0
    assert await stores.event_log.read(limit=10) == []
    await theirs.release(WMS_POSITIONS)
    assert (await stand_in_poller(stores, ours).poll_once()).recorded == 2


async def test_a_wms_listing_older_revisions_than_held_is_not_applied_and_is_warned_of(
    stores: Stores, caplog: pytest.LogCaptureFixture
) -> None:
    listing = StandInListing()
    newer = position_from_record(
        {**position_record(position_from_wms(listing.pages[None]["data"][0])), "revision": 5}
    )
    await stores.inventory.record([PositionFact(newer, 1)])
    poller = stand_in_poller(stores)
    with caplog.at_level(logging.WARNING, logger="process_apis.polling_positions"):
        outcome = await poller.poll_once()
    assert (outcome.recorded, outcome.duplicates) == (1, 1), "SKU-B only"
    assert "1 positions at a lower revision" in caplog.text, caplog.text
    (held,) = await InventoryQueries(stores.inventory).positions("SKU-A")
    assert held.revision == 5
