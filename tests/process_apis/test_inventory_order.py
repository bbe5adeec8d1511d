"""The inventory read model's ordering rule, as a property: whatever the interleaving,
duplication and batching of the same position events, the read model ends the same (each bin
at its highest revision), and forgetting after any point then replaying changes nothing."""

from __future__ import annotations

import uuid
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.events import EventEnvelope
from process_apis.projections_inventory import InventoryProjection
from stores import StoredEvent, Stores
from tests.process_apis.test_inventory_projection import position, pushed, read

BINS = ("A-01-01", "A-01-02", "B-07-03")


@st.composite
def histories(draw: st.DrawFn) -> dict[str, list[tuple[int, int]]]:
    """Per bin, its revisions in the WMS (1, 2, …) and the on-hand count each one says."""
    bins = draw(st.lists(st.sampled_from(BINS), min_size=1, max_size=3, unique=True))
    return {
        bin_code: [
            (revision, draw(st.integers(0, 500)))
            for revision in range(1, draw(st.integers(1, 4)) + 1)
        ]
        for bin_code in bins
    }


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(history=histories(), data=st.data())
async def test_any_interleaving_or_duplication_of_position_events_gives_the_same_read_model(
    stores: Stores, history: dict[str, list[tuple[int, int]]], data: st.DataObject
) -> None:
    sku = f"SKU-{uuid.uuid4().hex[:10]}"
    copies: list[EventEnvelope] = []
    for bin_code, revisions in history.items():
        for revision, on_hand in revisions:
            said = position(sku, bin_code, revision, on_hand)
            copies += [read(said), pushed(said)]
    shuffled = data.draw(st.permutations(copies), label="order")
    again = data.draw(st.lists(st.sampled_from(copies), max_size=6), label="redelivered")
    at = data.draw(st.integers(0, len(shuffled)), label="where the redeliveries go")
    arrived = [*shuffled[:at], *again, *shuffled[at:]]
    events = [StoredEvent(index + 1, envelope) for index, envelope in enumerate(arrived)]
    batches = data.draw(st.lists(st.integers(1, 5), min_size=len(events)), label="batches")

    projection = InventoryProjection(stores.inventory)
    start = 0
    for size in batches:
        if start >= len(events):
            break
        await projection.apply(events[start : start + size])
        start += size

    held = await stores.inventory.page(sku, None, after=None, limit=10)
    newest = {bin_code: position(sku, bin_code, *max(found)) for bin_code, found in history.items()}
    assert held == [newest[bin_code] for bin_code in sorted(newest)], (history, arrived)
    assert all(p.available_to_promise == max(p.on_hand - p.allocated, Decimal(0)) for p in held)

    cut = data.draw(st.integers(0, len(events)), label="rebuilt from")
    await projection.forget_after(cut)
    await projection.apply(events[cut:])
    assert await stores.inventory.page(sku, None, after=None, limit=10) == held, f"from {cut}"
