"""Where each consumer of the event log has applied up to, so a restart resumes there.

A consumer (a projection, the workflow trigger, …) stores its position only after the events
before it are applied, so a crash re-applies a batch and never skips one. `advance` never moves
a position backwards: a stale writer (a process that lost its lease mid-batch) cannot undo a
newer writer's progress. Only `reset`, used to rebuild a read model, moves it back on purpose.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import BigInteger, Column, DateTime, String, Table, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from stores.sql import METADATA, insert_into

POSITIONS = Table(
    "consumer_positions",
    METADATA,
    Column("consumer", String(100), primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


class PositionStore(Protocol):
    async def get(self, consumer: str) -> int:
        """The last applied position; 0 when the consumer never ran."""
        ...

    async def advance(self, consumer: str, position: int) -> bool:
        """Move forward to `position`; False (and nothing changed) when already at or past it."""
        ...

    async def reset(self, consumer: str, position: int) -> None:
        """Set the position, backwards too: the consumer re-applies everything after it."""
        ...


class SqlPositionStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, consumer: str) -> int:
        query = select(POSITIONS.c.position).where(POSITIONS.c.consumer == consumer)
        async with self._engine.connect() as connection:
            position = (await connection.execute(query)).scalar_one_or_none()
        return int(position or 0)

    async def advance(self, consumer: str, position: int) -> bool:
        """One statement, settled by the database: the row moves only if it is behind."""
        now = datetime.now(UTC)
        statement = insert_into(self._engine, POSITIONS).values(
            consumer=consumer, position=position, updated_at=now
        )
        statement = statement.on_conflict_do_update(
            index_elements=[POSITIONS.c.consumer],
            set_={"position": statement.excluded.position, "updated_at": now},
            where=POSITIONS.c.position < statement.excluded.position,
        ).returning(POSITIONS.c.position)
        async with self._engine.begin() as connection:
            moved = (await connection.execute(statement)).scalar_one_or_none()
        return moved is not None

    async def reset(self, consumer: str, position: int) -> None:
        now = datetime.now(UTC)
        async with self._engine.begin() as connection:
            changed = await connection.execute(
                update(POSITIONS)
                .where(POSITIONS.c.consumer == consumer)
                .values(position=position, updated_at=now)
            )
            if changed.rowcount == 0:
                await connection.execute(
                    insert_into(self._engine, POSITIONS)
                    .values(consumer=consumer, position=position, updated_at=now)
                    .on_conflict_do_nothing(index_elements=[POSITIONS.c.consumer])
                )
