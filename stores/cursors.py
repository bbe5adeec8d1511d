"""Cursors: where each polled feed was last read up to, kept so a restart resumes there.

A cursor is the feed's own opaque token (RoadLine's row number, Heritage's control number). Its
owner stores it only after everything read before it is durable, so a crash re-reads a batch and
never skips one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import Column, DateTime, String, Table, Text, select
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

    async def put(self, name: str, cursor: str) -> None: ...


class SqlCursorStore:
    """Cursors in SQLite or PostgreSQL; `put` returns only after the row is committed."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, name: str) -> str | None:
        async with self._engine.connect() as connection:
            return (
                await connection.execute(select(CURSORS.c.cursor).where(CURSORS.c.name == name))
            ).scalar_one_or_none()

    async def put(self, name: str, cursor: str) -> None:
        """Insert or overwrite in one statement, so two writers never collide on the key."""
        values = {"name": name, "cursor": cursor, "updated_at": datetime.now(UTC)}
        statement = insert_into(self._engine, CURSORS).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=[CURSORS.c.name],
            set_={"cursor": statement.excluded.cursor, "updated_at": statement.excluded.updated_at},
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)
