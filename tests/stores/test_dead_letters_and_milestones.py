"""Dead letters keep the whole payload for replay; the milestone store keeps every event once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain import Milestone, MilestoneStatus, current_milestone
from stores import SqlDeadLetterStore, SqlMilestoneStore, create_tables, open_engine


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request, tmp_path) -> AsyncIterator:
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'stores.sqlite3'}"
    engine = open_engine(url)
    await create_tables(engine)
    yield engine
    await engine.dispose()


async def test_a_dead_letter_keeps_the_raw_payload_headers_and_reason(engine):
    store = SqlDeadLetterStore(engine)
    body = b"ISA*00*garbled\x00\xff"
    letter = await store.put(
        source="heritage",
        reason="segment 3 (AT7): element 5 is not a date",
        content_type="application/edi-x12",
        headers={"x-correlation-id": "c-9"},
        body=body,
        correlation_id="c-9",
    )
    fetched = await store.get(letter.dead_letter_id)
    assert fetched is not None
    assert fetched.body == body
    assert fetched.reason == letter.reason
    assert fetched.headers == {"x-correlation-id": "c-9"}
    assert fetched.received_at.tzinfo is not None
    listed = await store.list(source="heritage")
    assert letter.dead_letter_id in [item.dead_letter_id for item in listed]
    await store.mark_replayed(letter.dead_letter_id, "accepted")
    replayed = await store.get(letter.dead_letter_id)
    assert replayed is not None and replayed.replay_outcome == "accepted"
    assert replayed.replayed_at is not None


def milestone(event_id: str, status: MilestoneStatus, hour: int, tracking: str) -> Milestone:
    zone = timezone(timedelta(hours=-6))
    return Milestone(
        event_id=event_id,
        tracking_number=tracking,
        status=status,
        occurred_at=datetime(2026, 11, 20, hour, 0, tzinfo=zone),
        carrier="SWFT",
        carrier_code=status.value[:2],
    )


async def test_a_late_in_transit_is_kept_but_does_not_undo_delivered(engine, request):
    store = SqlMilestoneStore(engine)
    tracking = f"SP{abs(hash(request.node.name)) % 10**10:010d}"
    delivered = milestone("e2", MilestoneStatus.DELIVERED, 15, tracking)
    late = milestone("e1", MilestoneStatus.IN_TRANSIT, 9, tracking)
    assert await store.add([delivered]) == [delivered]
    assert await store.add([late, delivered]) == [late], "only the unseen event is new"
    history = await store.history(tracking)
    assert [m.event_id for m in history] == ["e1", "e2"]
    assert history[0].occurred_at == late.occurred_at, "the instant survives the round trip"
    current = current_milestone(history)
    assert current is not None and current.status is MilestoneStatus.DELIVERED


async def test_identical_milestones_delivered_at_once_are_recorded_once(engine, request):
    store = SqlMilestoneStore(engine)
    tracking = f"SP{abs(hash(request.node.name)) % 10**10:010d}"
    delivered = milestone(f"{tracking}-d", MilestoneStatus.DELIVERED, 15, tracking)
    outcomes = await asyncio.gather(*(store.add([delivered]) for _ in range(20)))
    assert sorted(len(added) for added in outcomes) == [0] * 19 + [1], "exactly one records it"
    assert [m.event_id for m in await store.history(tracking)] == [delivered.event_id]


async def test_the_same_dead_letter_delivered_at_once_is_kept_once(engine, request):
    store = SqlDeadLetterStore(engine)
    body = f"ISA*broken {request.node.name}".encode()
    letters = await asyncio.gather(
        *(
            store.put(
                source="heritage",
                reason="segment 1 (ISA): truncated",
                content_type="application/edi-x12",
                headers={},
                body=body,
                correlation_id=f"c-{attempt}",
            )
            for attempt in range(20)
        )
    )
    assert len({letter.dead_letter_id for letter in letters}) == 1
    kept = [
        letter for letter in await store.list(source="heritage", limit=1000) if letter.body == body
    ]
    assert len(kept) == 1
    other_source = await store.put(
        source="wms", reason="r", content_type="x", headers={}, body=body, correlation_id="c"
    )
    assert other_source.dead_letter_id != letters[0].dead_letter_id, "one per source and body"


async def test_a_milestone_keeps_all_three_shipment_references(engine, request):
    store = SqlMilestoneStore(engine)
    tracking = f"PRO{abs(hash(request.node.name)) % 10**9:09d}"
    sent = replace(
        milestone(f"{tracking}-1", MilestoneStatus.IN_TRANSIT, 10, tracking),
        carrier="ODFL",
        shipper_reference="BK-300042",
    )
    await store.add([sent])
    (stored,) = await store.history(tracking)
    assert (stored.tracking_number, stored.shipper_reference, stored.carrier) == (
        tracking,
        "BK-300042",
        "ODFL",
    )
    assert stored == sent


STATUSES = st.sampled_from(list(MilestoneStatus))
HISTORIES = st.lists(
    st.tuples(STATUSES, st.integers(0, 12), st.sampled_from(["a", "b", "B", "é", "z1"])),
    min_size=0,
    max_size=12,
)


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(history=HISTORIES, new=st.tuples(STATUSES, st.integers(0, 12)))
def test_the_deciding_milestones_give_the_status_the_whole_history_gives(
    database, request, tmp_path, history, new
):
    """`current_milestone` of the deciding milestones and a new event equals it over the whole
    history and the event, whatever the statuses, times and tie-breaking event ids."""
    url = (
        request.getfixturevalue("postgres_url")
        if database == "postgresql"
        else f"sqlite+aiosqlite:///{tmp_path / 'deciding.sqlite3'}"
    )
    tracking = f"SP{uuid.uuid4().int % 10**10:010d}"
    stored = [
        milestone(f"{suffix}-{n}-{tracking}", status, hour, tracking)  # ids are unique keys
        for n, (status, hour, suffix) in enumerate(history)
    ]
    arriving = milestone(f"new-{tracking}", new[0], new[1], tracking)

    async def deciding() -> tuple[Milestone, ...]:
        engine = open_engine(url)
        try:
            await create_tables(engine)
            store = SqlMilestoneStore(engine)
            await store.add(stored)
            return await store.deciding(tracking)
        finally:
            await engine.dispose()

    kept = asyncio.run(deciding())
    assert len(kept) <= 2
    assert current_milestone([*kept, arriving]) == current_milestone([*stored, arriving])
    assert current_milestone(kept) == current_milestone(stored)
