"""Poll cursors: one per feed, moved by compare-and-set only, still there after a reopen."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stores import SqlCursorStore, create_tables, open_engine, open_stores


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_url")
    return f"sqlite+aiosqlite:///{tmp_path / 'stores.sqlite3'}"


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SqlCursorStore]:
    engine = open_engine(database_url)
    await create_tables(engine)
    yield SqlCursorStore(engine)
    await engine.dispose()


def feed_name() -> str:
    """A name no other test uses, since the PostgreSQL database is shared by the session."""
    return f"feed-{uuid.uuid4().hex[:8]}"


async def test_a_feed_never_polled_has_no_cursor(store: SqlCursorStore) -> None:
    assert await store.get(feed_name()) is None


async def test_put_moves_the_cursor_of_that_feed_only(store: SqlCursorStore) -> None:
    roadline, heritage = feed_name(), feed_name()
    assert await store.put(roadline, "120", expected=None)
    assert await store.put(heritage, "000000042", expected=None)
    assert await store.put(roadline, "135", expected="120")
    assert await store.get(roadline) == "135"
    assert await store.get(heritage) == "000000042", "another feed's cursor is left alone"


async def test_a_stale_writer_is_refused_and_the_cursor_stays_where_it_was(
    store: SqlCursorStore,
) -> None:
    name = feed_name()
    await store.put(name, "100", expected=None)
    assert await store.put(name, "200", expected="100"), "the current holder moves it"
    assert not await store.put(name, "150", expected="100"), "a writer that read 100 is late"
    assert not await store.put(name, "50", expected=None), "a first cursor cannot be written twice"
    assert await store.get(name) == "200"


async def test_of_writers_starting_from_one_cursor_at_once_exactly_one_moves_it(
    store: SqlCursorStore,
) -> None:
    name = feed_name()
    await store.put(name, "10", expected=None)
    outcomes = await asyncio.gather(
        *(store.put(name, str(20 + n), expected="10") for n in range(8))
    )
    assert outcomes.count(True) == 1, outcomes
    assert await store.get(name) == str(20 + outcomes.index(True))


# Each step: a writer reads the cursor (remembering it), or writes its remembered cursor plus a
# step forward. Writers never write backwards from what they read, so with compare-and-set the
# stored cursor must never decrease, whatever the interleaving.
_STEPS = st.lists(
    st.tuples(st.sampled_from(["read", "write"]), st.integers(0, 2), st.integers(1, 50)),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=_STEPS)
async def test_whatever_the_interleaving_of_writers_a_cursor_never_moves_backwards(
    store: SqlCursorStore, steps: list[tuple[str, int, int]]
) -> None:
    name = feed_name()
    read_by: dict[int, str | None] = {}
    stored: list[int] = []
    for action, writer, forward in steps:
        if action == "read" or writer not in read_by:
            read_by[writer] = await store.get(name)
            continue
        started_from = read_by[writer]
        before = await store.get(name)
        wanted = str(int(started_from or 0) + forward)
        moved = await store.put(name, wanted, expected=started_from)
        assert moved == (before == started_from), f"put from {started_from} over {before}"
        current = await store.get(name)
        assert current == (wanted if moved else before)
        if current is not None:
            stored.append(int(current))
    assert stored == sorted(stored), f"the cursor moved backwards: {stored}"


async def test_a_cursor_survives_reopening_the_stores(database_url: str) -> None:
    name = feed_name()
    stores = await open_stores(database_url)
    try:
        await stores.cursors.put(name, "77", expected=None)
    finally:
        await stores.close()
    reopened = await open_stores(database_url)
    try:
        assert await reopened.cursors.get(name) == "77"
    finally:
        await reopened.close()
