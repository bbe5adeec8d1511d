"""Idempotency records on SQLite and PostgreSQL: one holder per key, the stored result for every
retry, a clear refusal for the same key with other arguments, and keys that expire."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from stores import create_tables, open_engine
from stores.idempotency import (
    IdempotencyKeyReused,
    InProgress,
    RecordKey,
    Replay,
    SqlIdempotencyStore,
    Started,
)


class ManualClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_url")
    return f"sqlite+aiosqlite:///{tmp_path / 'idempotency.sqlite3'}"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def store(database_url: str, clock: ManualClock) -> AsyncIterator[SqlIdempotencyStore]:
    engine = open_engine(database_url)
    await create_tables(engine)
    yield SqlIdempotencyStore(engine, ttl_s=3600, lease_s=30, clock=clock)
    await engine.dispose()


def record(scope: str = "C-1001/warehouse-app", operation: str = "confirm_pick") -> RecordKey:
    """A key no other test uses, since the PostgreSQL database is shared by the session."""
    return RecordKey(scope, operation, f"key-{uuid.uuid4().hex}")


async def test_the_first_claim_starts_and_every_retry_replays_the_stored_result(
    store: SqlIdempotencyStore,
) -> None:
    key = record()
    claim = await store.claim(key, "fingerprint-a")
    assert isinstance(claim, Started)
    assert await store.complete(key, claim.token, {"type": "PickConfirmed", "task": "T-1"})
    for _ in range(2):
        again = await store.claim(key, "fingerprint-a")
        assert again == Replay({"type": "PickConfirmed", "task": "T-1"})


async def test_the_same_key_with_other_arguments_is_refused_running_or_done(
    store: SqlIdempotencyStore,
) -> None:
    key = record()
    claim = await store.claim(key, "fingerprint-a")
    assert isinstance(claim, Started)
    with pytest.raises(IdempotencyKeyReused, match="different arguments"):
        await store.claim(key, "fingerprint-b")
    await store.complete(key, claim.token, {"ok": True})
    with pytest.raises(IdempotencyKeyReused):
        await store.claim(key, "fingerprint-b")


async def test_keys_are_scoped_by_caller_and_operation(store: SqlIdempotencyStore) -> None:
    key = record()
    assert isinstance(await store.claim(key, "f"), Started)
    other_client = RecordKey("C-1002/warehouse-app", key.operation, key.key)
    other_operation = RecordKey(key.scope, "adjust_stock", key.key)
    assert isinstance(await store.claim(other_client, "g"), Started)
    assert isinstance(await store.claim(other_operation, "h"), Started)


async def test_a_running_command_holds_its_key_until_released(
    store: SqlIdempotencyStore, clock: ManualClock
) -> None:
    key = record()
    claim = await store.claim(key, "f")
    assert isinstance(claim, Started)
    waiting = await store.claim(key, "f")
    assert waiting == InProgress(clock.now + timedelta(seconds=30))
    await store.release(key, claim.token)
    assert isinstance(await store.claim(key, "f"), Started), "a released key may run again"


async def test_a_holder_whose_lease_ran_out_loses_the_key_to_the_next_retry(
    store: SqlIdempotencyStore, clock: ManualClock
) -> None:
    key = record()
    first = await store.claim(key, "f")
    assert isinstance(first, Started)
    clock.advance(31)
    second = await store.claim(key, "f")
    assert isinstance(second, Started) and second.token != first.token
    assert not await store.complete(key, first.token, {"late": True}), "the old holder lost it"
    assert await store.complete(key, second.token, {"winner": True})
    assert await store.claim(key, "f") == Replay({"winner": True})


async def test_records_expire_after_the_configured_time(
    store: SqlIdempotencyStore, clock: ManualClock
) -> None:
    key = record()
    claim = await store.claim(key, "f")
    assert isinstance(claim, Started)
    await store.complete(key, claim.token, {"n": 1})
    clock.advance(3599)
    assert await store.claim(key, "f") == Replay({"n": 1}), "not expired yet"
    with pytest.raises(IdempotencyKeyReused):
        await store.claim(key, "other")
    clock.advance(2)
    fresh = await store.claim(key, "other")
    assert isinstance(fresh, Started), "an expired key is free again, whatever it meant before"


async def test_purge_deletes_expired_records_only(
    store: SqlIdempotencyStore, clock: ManualClock
) -> None:
    old, young = record(), record()
    await store.claim(old, "f")
    clock.advance(1800)
    claim = await store.claim(young, "f")
    assert isinstance(claim, Started)
    await store.complete(young, claim.token, {"young": True})
    clock.advance(1801)
    assert await store.purge_expired() >= 1
    assert isinstance(await store.claim(old, "f"), Started)
    assert await store.claim(young, "f") == Replay({"young": True})


async def test_concurrent_claims_from_two_engines_start_the_command_exactly_once(
    database_url: str,
) -> None:
    """Two engines stand for two gateway processes: separate pools on one database."""
    engines = [open_engine(database_url) for _ in range(2)]
    try:
        await create_tables(engines[0])
        stores = [SqlIdempotencyStore(engine) for engine in engines]
        key = record()
        claims = await asyncio.gather(
            *(stores[n % 2].claim(key, "same-arguments") for n in range(12))
        )
        started = [claim for claim in claims if isinstance(claim, Started)]
        assert len(started) == 1, claims
        assert all(isinstance(claim, InProgress | Started) for claim in claims)
        await stores[0].complete(key, started[0].token, {"done": 1})
        assert await stores[1].claim(key, "same-arguments") == Replay({"done": 1})
    finally:
        for engine in engines:
            await engine.dispose()


@pytest.mark.parametrize(
    ("scope", "operation", "key"),
    [
        ("", "op", "k"),
        ("s", "", "k"),
        ("s", "op", ""),
        ("s", "op", "k" * 256),
        ("s" * 201, "o", "k"),
    ],
)
def test_a_record_key_out_of_bounds_is_refused(scope: str, operation: str, key: str) -> None:
    with pytest.raises(ValueError, match="1 to"):
        RecordKey(scope, operation, key)
