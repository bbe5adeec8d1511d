"""Milestones as received, per tracking number: the history behind every shipment status.

Keyed by event id, so a duplicate delivery stores nothing new and a late one is still kept;
the current status is derived from the whole history by `domain.current_milestone`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC
from typing import Protocol

from sqlalchemy import Column, DateTime, String, Table, Text, select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.shipments import Milestone, milestone_fields, milestone_from_fields
from stores.sql import METADATA, as_utc

MILESTONES = Table(
    "milestones",
    METADATA,
    Column("event_id", String(200), primary_key=True),
    Column("tracking_number", String(64), nullable=False, index=True),
    Column("status", String(32), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("carrier", String(32), nullable=False),
    Column("carrier_code", String(32), nullable=False),
    Column("carrier_description", Text, nullable=False),
    Column("reason", Text, nullable=True),
    Column("city", String(100), nullable=True),
    Column("region", String(100), nullable=True),
    Column("country", String(2), nullable=True),
)


class MilestoneStore(Protocol):
    async def add(self, milestones: Iterable[Milestone]) -> Sequence[Milestone]: ...

    async def history(self, tracking_number: str) -> Sequence[Milestone]: ...


class SqlMilestoneStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, milestones: Iterable[Milestone]) -> Sequence[Milestone]:
        """Store the milestones not seen before and return exactly those."""
        incoming = {milestone.event_id: milestone for milestone in milestones}
        if not incoming:
            return []
        async with self._engine.begin() as connection:
            known = set(
                (
                    await connection.execute(
                        select(MILESTONES.c.event_id).where(MILESTONES.c.event_id.in_(incoming))
                    )
                ).scalars()
            )
            fresh = [milestone for key, milestone in incoming.items() if key not in known]
            if fresh:
                await connection.execute(MILESTONES.insert(), [_to_row(m) for m in fresh])
        return fresh

    async def history(self, tracking_number: str) -> Sequence[Milestone]:
        query = (
            select(MILESTONES)
            .where(MILESTONES.c.tracking_number == tracking_number)
            .order_by(MILESTONES.c.occurred_at, MILESTONES.c.event_id)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_from_row(row) for row in rows]


def _to_row(milestone: Milestone) -> dict[str, object]:
    return {**milestone_fields(milestone), "occurred_at": milestone.occurred_at.astimezone(UTC)}


def _from_row(row) -> Milestone:  # type: ignore[no-untyped-def]
    values = dict(row._mapping)
    return milestone_from_fields({**values, "occurred_at": as_utc(values["occurred_at"])})
