"""SQL engines for the embedded (SQLite) and scale-out (PostgreSQL) stores.

One URL decides the engine: `sqlite+aiosqlite:///var/gateway.sqlite3` on one machine,
`postgresql+asyncpg://user@host/db` for several replicas. Tables are created on open so a fresh
machine needs no migration step.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import MetaData, Table, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

METADATA = MetaData()
"""Every store's tables, so one `create_all` prepares a database."""

SQLITE_CONNECTIONS = 1
"""SQLite takes one writer at a time, and a writer that finds the file locked sleeps in its
busy handler in steps of up to 100 ms instead of waking when the lock is free: a process
with several connections turns a burst of writes (webhooks, projections, positions) into
stalls of tens of milliseconds. One connection queues them in order, each taking well under
a millisecond."""


def open_engine(url: str) -> AsyncEngine:
    """An async engine for `url`; SQLite files get their folder created, WAL turned on and
    one connection (`SQLITE_CONNECTIONS`)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, pool_size=SQLITE_CONNECTIONS, max_overflow=0)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()

        return engine
    return create_async_engine(url, pool_pre_ping=True)


def insert_into(engine: AsyncEngine, table: Table) -> postgresql.Insert | sqlite.Insert:
    """The engine's own INSERT, which knows `ON CONFLICT`: concurrent writers of one key then
    settle it in the database, in one statement, instead of racing a read and a write."""
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


SCHEMA_LOCK = 0x6C67_7363_6865_6D61
"""The PostgreSQL advisory lock taken while tables are created ("lgschema")."""


async def create_tables(engine: AsyncEngine) -> None:
    """Create the tables that are missing. On PostgreSQL under an advisory lock held until the
    transaction ends: replicas starting together on a fresh database would otherwise all see
    a table missing and all create it, and all but one fail on PostgreSQL's own catalog."""
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK}
            )
        await connection.run_sync(METADATA.create_all)


def as_utc(value: datetime | None) -> datetime | None:
    """Read back a stored timestamp as aware UTC (SQLite drops the offset; we store UTC)."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
