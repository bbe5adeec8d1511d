"""Cursors: where each polled feed was last read up to, kept so a restart resumes there.

A cursor is the feed's own opaque token (RoadLine's row number, Heritage's control number). Its
owner stores it only after everything read before it is durable, so a crash re-reads a batch and
never skips one.

Several gateway processes may poll the same feed (one at a time, under a lease, but a lease can
expire under a slow holder). A cursor therefore never moves by a blind overwrite: `put` is a
compare-and-set against the cursor the writer started from. A writer that read an older cursor
than the one stored (a stale holder waking up after another process moved on) is refused, so
a cursor never moves backwards.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import Column, DateTime, String, Table, Text, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from stores.sql import METADATA, insert_into

CURSORS = Table(
    "poll_cursors",
    METADATA,
    Column("name", String(100), primary_key=True),
    Column("cursor", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


class CursorStore(Protocol):
    async def get(self, name: str) -> str | None: ...

    async def put(self, name: str, cursor: str, *, expected: str | None) -> bool:
        """Store `cursor` if the stored one is still `expected` (None: no cursor yet);
        False, and nothing changed, when another writer moved it meanwhile."""
        ...


class SqlCursorStore:
    """Cursors in SQLite or PostgreSQL; `put` returns only after the row is committed."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, name: str) -> str | None:
        async with self._engine.connect() as connection:
            return (
                await connection.execute(select(CURSORS.c.cursor).where(CURSORS.c.name == name))
            ).scalar_one_or_none()

    async def put(self, name: str, cursor: str, *, expected: str | None) -> bool:
        """One conditional statement, so the database settles two writers of one feed: the
        first one's change wins and the other sees `False`."""
        now = datetime.now(UTC)
        async with self._engine.begin() as connection:
            if expected is None:
                statement = (
                    insert_into(self._engine, CURSORS)
                    .values(name=name, cursor=cursor, updated_at=now)
                    .on_conflict_do_nothing(index_elements=[CURSORS.c.name])
                    .returning(CURSORS.c.name)
                )
                return (await connection.execute(statement)).scalar_one_or_none() is not None
            statement = (
                update(CURSORS)
                .where(CURSORS.c.name == name, CURSORS.c.cursor == expected)
                .values(cursor=cursor, updated_at=now)
            )
            return (await connection.execute(statement)).rowcount == 1
