"""Poll cursors: one per feed, overwritten in place, still there after the store is reopened."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

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


async def test_put_overwrites_the_cursor_of_that_feed_only(store: SqlCursorStore) -> None:
    roadline, heritage = feed_name(), feed_name()
    await store.put(roadline, "120")
    await store.put(heritage, "000000042")
    await store.put(roadline, "135")
    assert await store.get(roadline) == "135"
    assert await store.get(heritage) == "000000042", "another feed's cursor is left alone"


async def test_a_cursor_survives_reopening_the_stores(database_url: str) -> None:
    name = feed_name()
    stores = await open_stores(database_url)
    try:
        await stores.cursors.put(name, "77")
    finally:
        await stores.close()
    reopened = await open_stores(database_url)
    try:
        assert await reopened.cursors.get(name) == "77"
    finally:
        await reopened.close()
