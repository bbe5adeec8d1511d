"""The embedded engine under concurrent writers in one process.

Many coroutines each read, then write, in one transaction: on SQLite with several connections
two such transactions can each hold a read lock and both ask for the write lock, and one is
refused at once with "database is locked" (SQLite's deadlock rule skips the busy handler).
One connection per process queues them instead, so every one commits.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, select, update

from stores import open_engine

COUNTERS = Table(
    "counters", MetaData(), Column("name", String, primary_key=True), Column("value", Integer)
)


def test_concurrent_read_then_write_transactions_all_commit(tmp_path: Path) -> None:
    async def scenario() -> int:
        engine = open_engine(f"sqlite+aiosqlite:///{tmp_path / 'counters.sqlite3'}")
        async with engine.begin() as connection:
            await connection.run_sync(COUNTERS.metadata.create_all)
            await connection.execute(COUNTERS.insert().values(name="hits", value=0))

        async def increment() -> None:
            async with engine.begin() as connection:
                row = await connection.execute(select(COUNTERS.c.value))
                value = row.scalar_one()
                await asyncio.sleep(0)  # another coroutine runs between the read and the write
                await connection.execute(update(COUNTERS).values(value=value + 1))

        await asyncio.gather(*(increment() for _ in range(50)))
        async with engine.connect() as connection:
            total = (await connection.execute(select(COUNTERS.c.value))).scalar_one()
        await engine.dispose()
        return total

    assert asyncio.run(scenario()) == 50
