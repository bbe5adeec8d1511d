"""Who uses which deprecated part of the schema: one row per client and coordinate, shared by
every process of a deployment.

Each process counts in memory and adds its counts here now and then
(`policies.deprecations`); adding is one `INSERT … ON CONFLICT` that sums the counts and
keeps the earliest first use and the latest last use, so processes writing at once add up
instead of overwriting each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import BigInteger, Column, DateTime, String, Table, case, select
from sqlalchemy.ext.asyncio import AsyncEngine

from stores.sql import METADATA, as_utc, insert_into

MAX_CLIENT_LENGTH = 200
MAX_COORDINATE_LENGTH = 400

DEPRECATED_USAGE = Table(
    "deprecated_usage",
    METADATA,
    Column("client_id", String(MAX_CLIENT_LENGTH), primary_key=True),
    Column("coordinate", String(MAX_COORDINATE_LENGTH), primary_key=True),
    Column("tenant_id", String(200), nullable=False),
    Column("uses", BigInteger, nullable=False),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True, slots=True)
class DeprecatedUse:
    """How often `client_id` (acting for `tenant_id`) used `coordinate`, first and last."""

    client_id: str
    tenant_id: str
    coordinate: str
    uses: int
    first_seen: datetime
    last_seen: datetime


class DeprecatedUseStore(Protocol):
    async def add(self, uses: Sequence[DeprecatedUse]) -> None:
        """Add these counts to the ones kept (times: the earliest first, the latest last)."""
        ...

    async def list(
        self, *, client_id: str | None = None, coordinate: str | None = None, limit: int = 100
    ) -> list[DeprecatedUse]:
        """The uses kept, the most recently seen first."""
        ...


class SqlDeprecatedUseStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, uses: Sequence[DeprecatedUse]) -> None:
        if not uses:
            return
        for use in uses:
            if use.first_seen.tzinfo is None or use.last_seen.tzinfo is None:
                raise ValueError("first_seen and last_seen must be timezone-aware")
        table = DEPRECATED_USAGE
        statement = insert_into(self._engine, table)
        excluded = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.client_id, table.c.coordinate],
            set_={
                "tenant_id": excluded.tenant_id,
                "uses": table.c.uses + excluded.uses,
                "first_seen": case(
                    (excluded.first_seen < table.c.first_seen, excluded.first_seen),
                    else_=table.c.first_seen,
                ),
                "last_seen": case(
                    (excluded.last_seen > table.c.last_seen, excluded.last_seen),
                    else_=table.c.last_seen,
                ),
            },
        )
        rows = [
            {
                "client_id": use.client_id,
                "coordinate": use.coordinate,
                "tenant_id": use.tenant_id,
                "uses": use.uses,
                "first_seen": use.first_seen,
                "last_seen": use.last_seen,
            }
            for use in sorted(uses, key=lambda u: (u.client_id, u.coordinate))
        ]
        async with self._engine.begin() as connection:
            await connection.execute(statement, rows)

    async def list(
        self, *, client_id: str | None = None, coordinate: str | None = None, limit: int = 100
    ) -> list[DeprecatedUse]:
        table = DEPRECATED_USAGE
        query = select(table).order_by(
            table.c.last_seen.desc(), table.c.client_id, table.c.coordinate
        )
        if client_id is not None:
            query = query.where(table.c.client_id == client_id)
        if coordinate is not None:
            query = query.where(table.c.coordinate == coordinate)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query.limit(limit))).all()
        return [
            DeprecatedUse(
                client_id=row.client_id,
                tenant_id=row.tenant_id,
                coordinate=row.coordinate,
                uses=row.uses,
                first_seen=as_utc(row.first_seen),  # type: ignore[arg-type]
                last_seen=as_utc(row.last_seen),  # type: ignore[arg-type]
            )
            for row in rows
        ]
