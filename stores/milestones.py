"""Milestones as received, per tracking number: the history behind every shipment status.

Keyed by event id, so a duplicate delivery stores nothing new and a late one is still kept;
the current status is derived from the whole history by `domain.current_milestone`. Deliveries
of one milestone that arrive at the same time are settled by the database (`ON CONFLICT DO
NOTHING`): exactly one of them records it, none fails.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC
from typing import Protocol

from sqlalchemy import Column, DateTime, String, Table, Text, select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.shipments import (
    MILESTONE_TEXT_LIMITS,
    Milestone,
    milestone_fields,
    milestone_from_fields,
)
from stores.sql import METADATA, as_utc, insert_into

_ROWS_PER_STATEMENT = 500
"""Well under SQLite's limit of bound parameters per statement."""

_LIMITS = MILESTONE_TEXT_LIMITS

MILESTONES = Table(
    "milestones",
    METADATA,
    Column("event_id", String(_LIMITS["event_id"]), primary_key=True),
    Column("tracking_number", String(_LIMITS["tracking_number"]), nullable=False, index=True),
    Column("status", String(_LIMITS["status"]), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("carrier", String(_LIMITS["carrier"]), nullable=False),
    Column("carrier_code", String(_LIMITS["carrier_code"]), nullable=False),
    Column("carrier_description", Text, nullable=False),
    Column("reason", Text, nullable=True),
    Column("city", String(_LIMITS["city"]), nullable=True),
    Column("region", String(_LIMITS["region"]), nullable=True),
    Column("country", String(_LIMITS["country"]), nullable=True),
    Column("shipper_reference", String(_LIMITS["shipper_reference"]), nullable=True),
)


class MilestoneStore(Protocol):
    async def add(self, milestones: Iterable[Milestone]) -> Sequence[Milestone]: ...

    async def history(self, tracking_number: str) -> Sequence[Milestone]: ...


class SqlMilestoneStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, milestones: Iterable[Milestone]) -> Sequence[Milestone]:
        """Store the milestones not seen before and return exactly those this call stored."""
        incoming = {milestone.event_id: milestone for milestone in milestones}
        if not incoming:
            return []
        pending = list(incoming.values())
        stored: set[str] = set()
        async with self._engine.begin() as connection:
            for start in range(0, len(pending), _ROWS_PER_STATEMENT):
                rows = [_to_row(m) for m in pending[start : start + _ROWS_PER_STATEMENT]]
                statement = (
                    insert_into(self._engine, MILESTONES)
                    .values(rows)
                    .on_conflict_do_nothing(index_elements=[MILESTONES.c.event_id])
                    .returning(MILESTONES.c.event_id)
                )
                stored.update((await connection.execute(statement)).scalars())
        return [milestone for key, milestone in incoming.items() if key in stored]

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
