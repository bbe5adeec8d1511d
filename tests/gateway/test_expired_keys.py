"""A running gateway deletes idempotency records past their time to live, and only those."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from stores import create_tables, open_engine
from stores.idempotency import IDEMPOTENCY_RECORDS, RecordKey, SqlIdempotencyStore, Started
from tests.gateway.conftest import gateway_process, write_config
from tests.sandbox_processes import Sandbox, free_port

PURGED_WITHIN_S = 30.0


async def claimed_keys(database: Path, *keys: tuple[RecordKey, datetime]) -> None:
    """Each key claimed and completed as of its instant, with the default time to live."""
    engine = open_engine(f"sqlite+aiosqlite:///{database}")
    try:
        await create_tables(engine)
        for key, at in keys:
            store = SqlIdempotencyStore(engine, clock=lambda at=at: at)
            claim = await store.claim(key, "fingerprint")
            assert isinstance(claim, Started)
            await store.complete(key, claim.token, {"done": True})
    finally:
        await engine.dispose()


async def remembered(database: Path) -> set[str]:
    engine = open_engine(f"sqlite+aiosqlite:///{database}")
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(select(IDEMPOTENCY_RECORDS.c.idempotency_key))
            return {row[0] for row in rows}
    finally:
        await engine.dispose()


def test_expired_records_are_deleted_and_live_ones_kept(sandbox: Sandbox, tmp_path: Path):
    database = tmp_path / "gateway.sqlite3"
    now = datetime.now(UTC)
    expired = RecordKey("C-1001:warehouse-app", "confirmPick", "yesterdays-key-0001")
    live = RecordKey("C-1001:warehouse-app", "confirmPick", "todays-key-00000001")
    asyncio.run(claimed_keys(database, (expired, now - timedelta(days=2)), (live, now)))
    port = free_port()
    config = tmp_path / "gateway.toml"
    write_config(
        config,
        sandbox,
        port,
        database,
        polling=False,
        extra="[idempotency]\npurge_interval_s = 1\n",
    )
    with gateway_process(config, port):
        deadline = time.monotonic() + PURGED_WITHIN_S
        keys = asyncio.run(remembered(database))
        while expired.key in keys and time.monotonic() < deadline:
            time.sleep(0.5)
            keys = asyncio.run(remembered(database))
    assert keys == {live.key}, keys
