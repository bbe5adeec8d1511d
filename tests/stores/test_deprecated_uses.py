"""Deprecated uses per client and coordinate: counts from several writers add up, the earliest
first use and the latest last use are kept, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from policies.deprecations import DeprecationUsage
from policies.principal import Principal
from stores import create_tables, open_engine
from stores.deprecations import DeprecatedUse, SqlDeprecatedUseStore

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request, tmp_path) -> str:
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_url")
    return f"sqlite+aiosqlite:///{tmp_path / 'stores.sqlite3'}"


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SqlDeprecatedUseStore]:
    engine = open_engine(database_url)
    await create_tables(engine)
    yield SqlDeprecatedUseStore(engine)
    await engine.dispose()


def client_name() -> str:
    """A client no other test uses, since the PostgreSQL database is shared by the session."""
    return f"client-{uuid.uuid4().hex[:8]}"


def use(client: str, coordinate: str, uses: int, first: datetime, last: datetime):
    return DeprecatedUse(client, "C-1001", coordinate, uses, first, last)


async def test_counts_add_up_and_keep_the_first_and_last_use(store: SqlDeprecatedUseStore):
    client = client_name()
    await store.add([use(client, "Shipment.live", 3, T0, T0 + timedelta(minutes=5))])
    await store.add([use(client, "Shipment.live", 2, T0 - timedelta(hours=1), T0)])
    await store.add(
        [use(client, "Shipment.live", 1, T0 + timedelta(days=1), T0 + timedelta(days=1))]
    )
    (kept,) = await store.list(client_id=client)
    assert kept.uses == 6
    assert kept.first_seen == T0 - timedelta(hours=1)
    assert kept.last_seen == T0 + timedelta(days=1)


async def test_clients_and_coordinates_are_counted_apart(store: SqlDeprecatedUseStore) -> None:
    first, second = client_name(), client_name()
    await store.add(
        [
            use(first, "Shipment.live", 1, T0, T0),
            use(first, "OrderStatus.ONHOLD", 4, T0, T0 + timedelta(seconds=1)),
            use(second, "Shipment.live", 7, T0, T0 + timedelta(seconds=2)),
        ]
    )
    mine = await store.list(client_id=first)
    assert [(u.coordinate, u.uses) for u in mine] == [
        ("OrderStatus.ONHOLD", 4),
        ("Shipment.live", 1),
    ]
    theirs = await store.list(client_id=second, coordinate="Shipment.live")
    assert [(u.client_id, u.uses) for u in theirs] == [(second, 7)]


async def test_concurrent_writers_lose_no_count(database_url: str) -> None:
    """Several processes flush at once: each through its own engine, as processes do."""
    client = client_name()
    engines = [open_engine(database_url) for _ in range(4)]
    try:
        await create_tables(engines[0])
        stores = [SqlDeprecatedUseStore(engine) for engine in engines]

        async def writer(store: SqlDeprecatedUseStore, n: int) -> None:
            for i in range(10):
                at = T0 + timedelta(seconds=n * 10 + i)
                await store.add([use(client, "Shipment.live", 1, at, at)])

        await asyncio.gather(*(writer(store, n) for n, store in enumerate(stores)))
        (kept,) = await stores[0].list(client_id=client)
        assert kept.uses == 40
        assert (kept.first_seen, kept.last_seen) == (T0, T0 + timedelta(seconds=39))
    finally:
        for engine in engines:
            await engine.dispose()


async def test_the_list_is_bounded_and_most_recent_first(store: SqlDeprecatedUseStore) -> None:
    client = client_name()
    await store.add(
        [use(client, f"Type.field{n:04d}", 1, T0, T0 + timedelta(seconds=n)) for n in range(1500)]
    )
    listed = await store.list(client_id=client, limit=1000)
    assert len(listed) == 1000
    assert listed[0].coordinate == "Type.field1499"
    assert listed[-1].coordinate == "Type.field0500"


async def test_naive_times_are_refused(store: SqlDeprecatedUseStore) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        await store.add([use(client_name(), "Shipment.live", 1, T0.replace(tzinfo=None), T0)])


async def test_the_usage_policy_counts_in_memory_and_flushes_once(
    store: SqlDeprecatedUseStore,
) -> None:
    client = client_name()
    now = [T0]
    usage = DeprecationUsage(store, clock=lambda: now[0])
    principal = Principal(client, "C-1002")
    for _ in range(5):
        usage.record(principal, ("Shipment.live",))
        now[0] += timedelta(seconds=1)
    usage.record(principal, ("OrderStatus.ONHOLD", "Shipment.live"))
    assert await store.list(client_id=client) == [], "nothing is written per request"
    await usage.flush()
    await usage.flush()
    counted = {u.coordinate: (u.uses, u.tenant_id) for u in await store.list(client_id=client)}
    assert counted == {"Shipment.live": (6, "C-1002"), "OrderStatus.ONHOLD": (1, "C-1002")}


async def test_counts_survive_a_store_that_fails_and_are_written_by_the_next_flush(
    store: SqlDeprecatedUseStore,
) -> None:
    class Failing:
        def __init__(self) -> None:
            self.fail = True

        async def add(self, uses):  # type: ignore[no-untyped-def]
            if self.fail:
                raise ConnectionError("database down")
            await store.add(uses)

    failing = Failing()
    client = client_name()
    usage = DeprecationUsage(failing)  # type: ignore[arg-type]
    usage.record(Principal(client, "C-1001"), ("Shipment.live",))
    await usage.flush()
    usage.record(Principal(client, "C-1001"), ("Shipment.live",))
    failing.fail = False
    await usage.flush()
    (kept,) = await store.list(client_id=client)
    assert kept.uses == 2
