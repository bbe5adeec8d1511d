"""Consumer positions and leases, on SQLite and the real PostgreSQL: the rules several
processes rely on to share the work of following the event log."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from stores import SqlLeaseStore, SqlPositionStore, create_tables, open_engine


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request, tmp_path) -> AsyncIterator[AsyncEngine]:
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'state.sqlite3'}"
    engine = open_engine(url)
    await create_tables(engine)
    yield engine
    await engine.dispose()


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


async def test_a_position_starts_at_zero_and_only_moves_forward(engine):
    positions = SqlPositionStore(engine)
    consumer = unique("projection")
    assert await positions.get(consumer) == 0
    assert await positions.advance(consumer, 10)
    assert not await positions.advance(consumer, 7), "a stale writer must not move it back"
    assert not await positions.advance(consumer, 10)
    assert await positions.get(consumer) == 10
    assert await positions.advance(consumer, 11)
    assert await positions.get(consumer) == 11


async def test_reset_moves_a_position_back_for_a_rebuild(engine):
    positions = SqlPositionStore(engine)
    consumer = unique("projection")
    await positions.reset(consumer, 5)
    assert await positions.get(consumer) == 5
    await positions.advance(consumer, 40)
    await positions.reset(consumer, 0)
    assert await positions.get(consumer) == 0


async def test_concurrent_writers_leave_the_highest_position(engine):
    positions = SqlPositionStore(engine)
    consumer = unique("projection")
    await positions.advance(consumer, 1)
    await asyncio.gather(*(positions.advance(consumer, n) for n in [5, 3, 9, 2, 8, 7]))
    assert await positions.get(consumer) == 9


async def test_advances_made_at_once_commit_together_and_each_learns_if_it_moved(engine):
    positions = SqlPositionStore(engine)
    names = [unique(f"projection-{n}") for n in range(5)]
    await positions.advance(names[0], 10)
    commits: list[object] = []
    event.listen(engine.sync_engine, "commit", commits.append)
    moved = await asyncio.gather(
        *(positions.advance(name, 5) for name in names), positions.advance(names[1], 7)
    )
    assert moved == [False, True, True, True, True, True]
    assert [await positions.get(name) for name in names] == [10, 7, 5, 5, 5]
    assert len(commits) == 2, "five consumers in one transaction, a second move in the next"


@settings(max_examples=10, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=1_000), min_size=1, max_size=20))
def test_any_sequence_of_advances_ends_at_its_maximum(tmp_path_factory, moves):
    async def scenario() -> int:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('p') / 'p.sqlite3'}"
        engine = open_engine(url)
        await create_tables(engine)
        try:
            positions = SqlPositionStore(engine)
            seen = 0
            for move in moves:
                moved = await positions.advance("c", move)
                assert moved == (move > seen)
                seen = max(seen, move)
            return await positions.get("c")
        finally:
            await engine.dispose()

    assert asyncio.run(scenario()) == max(moves)


async def test_one_holder_at_a_time_and_renewal_by_the_holder(engine):
    leases = SqlLeaseStore(engine)
    name = unique("poll:roadline")
    assert await leases.acquire(name, "a", ttl_s=30)
    assert not await leases.acquire(name, "b", ttl_s=30)
    assert await leases.acquire(name, "a", ttl_s=30), "the holder renews its own lease"
    assert await leases.holder(name) == "a"


async def test_an_expired_lease_is_taken_over(engine):
    leases = SqlLeaseStore(engine)
    name = unique("poll:heritage")
    assert await leases.acquire(name, "dead", ttl_s=0.2)
    await asyncio.sleep(0.3)
    assert await leases.holder(name) is None
    assert await leases.acquire(name, "alive", ttl_s=30)
    assert not await leases.acquire(name, "dead", ttl_s=30), "the old holder lost it"


async def test_released_lease_is_free_and_only_its_holder_releases(engine):
    leases = SqlLeaseStore(engine)
    name = unique("consumer:x")
    await leases.acquire(name, "a", ttl_s=30)
    await leases.release(name, "b")
    assert await leases.holder(name) == "a"
    await leases.release(name, "a")
    assert await leases.holder(name) is None
    assert await leases.acquire(name, "b", ttl_s=30)


async def test_concurrent_takers_get_exactly_one_lease(engine):
    leases = SqlLeaseStore(engine)
    name = unique("consumer:race")
    taken = await asyncio.gather(*(leases.acquire(name, f"p{n}", ttl_s=30) for n in range(8)))
    assert taken.count(True) == 1


async def test_a_lease_needs_a_positive_ttl(engine):
    with pytest.raises(ValueError, match="positive TTL"):
        await SqlLeaseStore(engine).acquire(unique("x"), "a", ttl_s=0)
