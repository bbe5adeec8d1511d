"""Where each consumer of the event log has applied up to, so a restart resumes there.

A consumer (a projection, the workflow trigger, …) stores its position only after the events
before it are applied, so a crash re-applies a batch and never skips one. `advance` never moves
a position backwards: a stale writer (a process that lost its lease mid-batch) cannot undo a
newer writer's progress. Only `reset`, used to rebuild a read model, moves it back on purpose.

Every consumer stores its position after every batch, and the consumers of a process follow
the log side by side, so their advances come close together: the SQL store commits the
advances waiting at the moment it gets a connection in one transaction (each caller still
returns only once its position is durable), instead of one transaction per consumer and batch.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import BigInteger, Column, DateTime, String, Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

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


_Advance = tuple[str, int, "asyncio.Future[bool]"]
"""A waiting advance: consumer, position, and its caller's answer."""


class SqlPositionStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._get = select(POSITIONS.c.position).where(
            POSITIONS.c.consumer == bindparam("consumer")
        )
        """Asked after every batch by whoever waits for the read models (live updates)."""
        statement = insert_into(engine, POSITIONS)
        self._advance = statement.on_conflict_do_update(
            index_elements=[POSITIONS.c.consumer],
            set_={
                "position": statement.excluded.position,
                "updated_at": statement.excluded.updated_at,
            },
            where=POSITIONS.c.position < statement.excluded.position,
        ).returning(POSITIONS.c.consumer)
        """One statement for any number of consumers (their rows sent as one multi-row
        INSERT), settled by the database: a row moves only if it is behind."""
        self._waiting: list[_Advance] = []
        self._writer: asyncio.Task[None] | None = None

    async def get(self, consumer: str) -> int:
        async with self._engine.connect() as connection:
            found = await connection.execute(self._get, {"consumer": consumer})
            position = found.scalar_one_or_none()
        return int(position or 0)

    async def advance(self, consumer: str, position: int) -> bool:
        """Committed together with the other advances waiting for the connection."""
        moved: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((consumer, position, moved))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_waiting())
        return await asyncio.shield(moved)

    async def _write_waiting(self) -> None:
        while self._waiting:
            group: list[_Advance] = []
            try:
                async with self._engine.begin() as connection:
                    group = self._take_group()  # what queued while the connection was busy too
                    moved = await self._store(connection, group)
            except Exception as error:
                group = group or self._take_group()
                for _, _, answer in group:
                    if not answer.done():
                        answer.set_exception(error)
                continue
            for consumer, _, answer in group:
                if not answer.done():
                    answer.set_result(consumer in moved)

    def _take_group(self) -> list[_Advance]:
        """The waiting advances, one per consumer (a consumer's next one waits for the next
        transaction: one statement cannot move a row twice), in consumer order, so writers in
        several processes lock rows in the same order."""
        group: dict[str, _Advance] = {}
        later: list[_Advance] = []
        for waiting in self._waiting:
            if waiting[0] in group:
                later.append(waiting)
            else:
                group[waiting[0]] = waiting
        self._waiting = later
        return [group[consumer] for consumer in sorted(group)]

    async def _store(self, connection: AsyncConnection, group: list[_Advance]) -> set[str]:
        now = datetime.now(UTC)
        rows = [
            {"consumer": consumer, "position": position, "updated_at": now}
            for consumer, position, _ in group
        ]
        return set((await connection.execute(self._advance, rows)).scalars())

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
