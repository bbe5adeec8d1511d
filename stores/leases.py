"""Leases: one holder at a time for a named piece of work, across every process of a deployment.

Pollers, projections and workflow runners take a lease before they work and renew it while they
do; a holder that dies stops renewing, its lease expires, and another process takes over. The
database settles concurrent takers in one statement, so two processes never both hold a lease.
Expiry is judged by the taker's clock: the processes of a deployment must keep their clocks
within a small fraction of the TTL of each other (NTP does), and a holder renews well before
its lease runs out (see `process_apis.consumers`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import Column, DateTime, String, Table, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from stores.sql import METADATA, as_utc, insert_into

LEASES = Table(
    "leases",
    METADATA,
    Column("name", String(200), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)


class LeaseStore(Protocol):
    async def acquire(self, name: str, holder: str, ttl_s: float) -> bool:
        """Take the lease if it is free or expired, or renew it if `holder` has it."""
        ...

    async def release(self, name: str, holder: str) -> None: ...

    async def take_over(self, name: str, holder: str, ttl_s: float) -> str | None:
        """Take the lease whoever holds it (an operator's tool does, to stop the holder's
        work); answers the holder it was taken from, None when it was free."""
        ...

    async def holder(self, name: str) -> str | None:
        """Who holds the lease now (None when free or expired)."""
        ...


class SqlLeaseStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def acquire(self, name: str, holder: str, ttl_s: float) -> bool:
        if ttl_s <= 0:
            raise ValueError("a lease needs a positive TTL")
        now = datetime.now(UTC)
        expires_at = now + timedelta(seconds=ttl_s)
        statement = insert_into(self._engine, LEASES).values(
            name=name, holder=holder, expires_at=expires_at
        )
        statement = statement.on_conflict_do_update(
            index_elements=[LEASES.c.name],
            set_={"holder": holder, "expires_at": expires_at},
            where=or_(LEASES.c.holder == holder, LEASES.c.expires_at < now),
        ).returning(LEASES.c.holder)
        async with self._engine.begin() as connection:
            taken = (await connection.execute(statement)).scalar_one_or_none()
        return taken == holder

    async def take_over(self, name: str, holder: str, ttl_s: float) -> str | None:
        """The holder notices at its next renewal, which fails; until then it may still finish
        the batch it is applying, so the taker waits out a renewal period before it works."""
        if ttl_s <= 0:
            raise ValueError("a lease needs a positive TTL")
        previous = await self.holder(name)
        expires_at = datetime.now(UTC) + timedelta(seconds=ttl_s)
        statement = insert_into(self._engine, LEASES).values(
            name=name, holder=holder, expires_at=expires_at
        )
        statement = statement.on_conflict_do_update(
            index_elements=[LEASES.c.name], set_={"holder": holder, "expires_at": expires_at}
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)
        return None if previous == holder else previous

    async def release(self, name: str, holder: str) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                delete(LEASES).where(LEASES.c.name == name, LEASES.c.holder == holder)
            )

    async def holder(self, name: str) -> str | None:
        query = select(LEASES.c.holder, LEASES.c.expires_at).where(LEASES.c.name == name)
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).one_or_none()
        if row is None:
            return None
        expires_at = as_utc(row.expires_at)
        return row.holder if expires_at and expires_at >= datetime.now(UTC) else None
