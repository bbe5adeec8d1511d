"""Milestones as received, per tracking number: the history behind every shipment status.

A read model: the milestone history projection (`process_apis.projections_milestones`) writes
it from the event log, each row with the log position of its event, so the rows after a point
in time can be forgotten and projected again (a rebuild from that point).

Keyed by event id, so a duplicate delivery stores nothing new and a late one is still kept;
the current status is derived from the whole history by `domain.current_milestone`. Deliveries
of one milestone that arrive at the same time are settled by the database (`ON CONFLICT DO
NOTHING`): exactly one of them records it, none fails.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC
from typing import Protocol

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    String,
    Table,
    Text,
    case,
    delete,
    select,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.shipments import (
    MILESTONE_TEXT_LIMITS,
    PROGRESS_RANK,
    Milestone,
    MilestoneStatus,
    milestone_fields,
    milestone_from_fields,
)
from stores.sql import METADATA, as_utc, insert_into

_ROWS_PER_STATEMENT = 500
"""Well under SQLite's limit of bound parameters per statement."""

_LIMITS = MILESTONE_TEXT_LIMITS

MILESTONES = Table(
    "milestone_history",
    METADATA,
    Column("event_id", String(_LIMITS["event_id"]), primary_key=True),
    Column("position", BigInteger().with_variant(Integer, "sqlite"), nullable=False, index=True),
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
    async def add(
        self, milestones: Iterable[Milestone], *, positions: Mapping[str, int] | None = None
    ) -> Sequence[Milestone]: ...

    async def history(self, tracking_number: str) -> Sequence[Milestone]: ...

    async def deciding(self, tracking_number: str) -> tuple[Milestone, ...]: ...

    async def histories(
        self, tracking_numbers: Sequence[str]
    ) -> Mapping[str, tuple[Milestone, ...]]: ...

    async def forget_after(self, position: int) -> int: ...


class SqlMilestoneStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(
        self, milestones: Iterable[Milestone], *, positions: Mapping[str, int] | None = None
    ) -> Sequence[Milestone]:
        """Store the milestones not seen before and return exactly those this call stored.

        `positions` maps event ids to their log positions (0 where absent)."""
        incoming = {milestone.event_id: milestone for milestone in milestones}
        if not incoming:
            return []
        at = positions or {}
        pending = list(incoming.values())
        stored: set[str] = set()
        statement = (
            insert_into(self._engine, MILESTONES)
            .on_conflict_do_nothing(index_elements=[MILESTONES.c.event_id])
            .returning(MILESTONES.c.event_id)
        )
        async with self._engine.begin() as connection:
            for start in range(0, len(pending), _ROWS_PER_STATEMENT):
                rows = [
                    _to_row(m, at.get(m.event_id, 0))
                    for m in pending[start : start + _ROWS_PER_STATEMENT]
                ]
                # one statement compiled once, its rows sent in batches by the driver layer
                stored.update((await connection.execute(statement, rows)).scalars())
        return [milestone for key, milestone in incoming.items() if key in stored]

    async def history(self, tracking_number: str) -> Sequence[Milestone]:
        return (await self.histories([tracking_number]))[tracking_number]

    async def deciding(self, tracking_number: str) -> tuple[Milestone, ...]:
        """The milestones `current_milestone` decides between, and no others: the furthest
        progress and the latest exception (at most two). The status as of a new event is
        `current_milestone` of these and the event's milestone, two indexed lookups however
        long the history (live updates ask it once per shipment, then keep the pair current
        from the log: `process_apis.live.statuses`)."""
        # event ids break ties as Python compares them: by code point, not by locale
        event_id = MILESTONES.c.event_id.collate(
            "C" if self._engine.dialect.name == "postgresql" else "BINARY"
        )
        rank = case(
            {status.value: rank for status, rank in PROGRESS_RANK.items()},
            value=MILESTONES.c.status,
            else_=0,
        )
        ours = MILESTONES.c.tracking_number == tracking_number
        exception = MilestoneStatus.EXCEPTION.value
        furthest = (
            select(MILESTONES)
            .where(ours, MILESTONES.c.status != exception)
            .order_by(rank.desc(), MILESTONES.c.occurred_at.desc(), event_id.desc())
            .limit(1)
        )
        latest_exception = (
            select(MILESTONES)
            .where(ours, MILESTONES.c.status == exception)
            .order_by(MILESTONES.c.occurred_at.desc(), event_id.desc())
            .limit(1)
        )
        async with self._engine.connect() as connection:
            rows = [
                row
                for query in (furthest, latest_exception)
                for row in (await connection.execute(query)).all()
            ]
        return tuple(_from_row(row) for row in rows)

    async def histories(
        self, tracking_numbers: Sequence[str]
    ) -> Mapping[str, tuple[Milestone, ...]]:
        """Each tracking number's history, oldest first, in one query (empty when unknown)."""
        found: dict[str, list[Milestone]] = {number: [] for number in tracking_numbers}
        wanted = list(found)
        async with self._engine.connect() as connection:
            for start in range(0, len(wanted), _ROWS_PER_STATEMENT):
                query = (
                    select(MILESTONES)
                    .where(
                        MILESTONES.c.tracking_number.in_(
                            wanted[start : start + _ROWS_PER_STATEMENT]
                        )
                    )
                    .order_by(MILESTONES.c.occurred_at, MILESTONES.c.event_id)
                )
                for row in (await connection.execute(query)).all():
                    found[row.tracking_number].append(_from_row(row))
        return {number: tuple(milestones) for number, milestones in found.items()}

    async def forget_after(self, position: int) -> int:
        """Remove what events after `position` brought; returns how many rows went."""
        async with self._engine.begin() as connection:
            result = await connection.execute(
                delete(MILESTONES).where(MILESTONES.c.position > position)
            )
        return result.rowcount


def _to_row(milestone: Milestone, position: int) -> dict[str, object]:
    return {
        **milestone_fields(milestone),
        "occurred_at": milestone.occurred_at.astimezone(UTC),
        "position": position,
    }


def _from_row(row) -> Milestone:  # type: ignore[no-untyped-def]
    values = dict(row._mapping)
    values.pop("position", None)
    return milestone_from_fields({**values, "occurred_at": as_utc(values["occurred_at"])})
