"""When each backend was last heard from: one row per source, shared by every process.

A source is heard from when a poll of it completes (even one that brought nothing) or when one
of its webhooks is accepted. Answers built from a source's data are as fresh as that moment
(`process_apis.freshness`). The time only moves forward: a process whose clock or write lags
never makes a source look older than another process saw it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from sqlalchemy import Column, DateTime, String, Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from stores.sql import METADATA, as_utc, insert_into

SOURCES_HEARD = Table(
    "sources_heard",
    METADATA,
    Column("source", String(100), primary_key=True),
    Column("heard_at", DateTime(timezone=True), nullable=False),
)


class HeardStore(Protocol):
    async def heard(self, source: str, at: datetime) -> None:
        """Note that `source` answered at `at` (aware); an earlier time than the one kept is
        ignored."""
        ...

    async def last_heard(self) -> Mapping[str, datetime]:
        """Every source heard so far and when, in UTC."""
        ...


class SqlHeardStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def heard(self, source: str, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("heard_at must be timezone-aware")
        statement = insert_into(self._engine, SOURCES_HEARD).values(source=source, heard_at=at)
        statement = statement.on_conflict_do_update(
            index_elements=[SOURCES_HEARD.c.source],
            set_={"heard_at": statement.excluded.heard_at},
            where=SOURCES_HEARD.c.heard_at < statement.excluded.heard_at,
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)

    async def last_heard(self) -> Mapping[str, datetime]:
        async with self._engine.connect() as connection:
            rows = (await connection.execute(select(SOURCES_HEARD))).all()
        return {row.source: as_utc(row.heard_at) for row in rows}  # type: ignore[misc]
