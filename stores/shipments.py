"""The shipments read model: one row per tracking number, what the TMS and the WMS said of it.

Written only by the shipments projection (`process_apis.projections_shipments`) from the event
log: `shipment.booked` (the TMS booking: order, carrier, service, packages, tenant where known)
and `shipment.dispatched` (the WMS: order and carrier). Each source keeps its own columns and
the log position it came from, so a rebuild from a point in time can forget exactly what later
events brought (`forget_after`). The timeline and the current status come from the milestone
history (`stores.milestones`), another projection.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    String,
    Table,
    Text,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.shipments import MILESTONE_TEXT_LIMITS
from stores.sql import METADATA, insert_into

_POSITION = BigInteger().with_variant(Integer, "sqlite")
_ID = 100
_ROWS_PER_STATEMENT = 400

SHIPMENTS = Table(
    "shipments",
    METADATA,
    Column("tracking_number", String(MILESTONE_TEXT_LIMITS["tracking_number"]), primary_key=True),
    Column("booking_id", String(_ID), nullable=True),
    Column("booked_order_id", String(_ID), nullable=True, index=True),
    Column("booked_carrier", String(MILESTONE_TEXT_LIMITS["carrier"]), nullable=True),
    Column("booked_tenant_id", String(_ID), nullable=True),
    Column("service", String(_ID), nullable=True),
    Column("packages", Text, nullable=True),
    Column("booked_position", _POSITION, nullable=True),
    Column("dispatched_order_id", String(_ID), nullable=True, index=True),
    Column("dispatched_carrier", String(MILESTONE_TEXT_LIMITS["carrier"]), nullable=True),
    Column("dispatched_tenant_id", String(_ID), nullable=True),
    Column("dispatched_position", _POSITION, nullable=True),
)


@dataclass(frozen=True, slots=True)
class BookedShipment:
    """What a `shipment.booked` event says; `packages` are JSON-ready package records."""

    tracking_number: str
    booking_id: str
    order_id: str
    carrier: str
    service: str
    packages: tuple[Mapping[str, Any], ...]
    tenant_id: str | None
    position: int


@dataclass(frozen=True, slots=True)
class DispatchedShipment:
    """What a `shipment.dispatched` event says."""

    tracking_number: str
    order_id: str
    carrier: str
    tenant_id: str | None
    position: int


@dataclass(frozen=True, slots=True)
class ShipmentRecord:
    """One shipment as the read model holds it; the booking's word wins over the dispatch's
    where both speak (the TMS owns bookings). `position`: the last event that changed it."""

    tracking_number: str
    order_id: str | None
    tenant_id: str | None
    carrier: str | None
    booking_id: str | None
    service: str | None
    packages: tuple[Mapping[str, Any], ...]
    position: int


class ShipmentStore(Protocol):
    async def record_bookings(self, booked: Iterable[BookedShipment]) -> None: ...

    async def record_dispatches(self, dispatched: Iterable[DispatchedShipment]) -> None: ...

    async def by_tracking_number(self, tracking_number: str) -> ShipmentRecord | None: ...

    async def for_orders(
        self, order_ids: Sequence[str]
    ) -> Mapping[str, tuple[ShipmentRecord, ...]]: ...

    async def forget_after(self, position: int) -> None: ...


class SqlShipmentStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def record_bookings(self, booked: Iterable[BookedShipment]) -> None:
        rows = {
            fact.tracking_number: {
                "tracking_number": fact.tracking_number,
                "booking_id": fact.booking_id,
                "booked_order_id": fact.order_id,
                "booked_carrier": fact.carrier,
                "booked_tenant_id": fact.tenant_id,
                "service": fact.service,
                "packages": orjson.dumps(list(fact.packages)).decode(),
                "booked_position": fact.position,
            }
            for fact in sorted(booked, key=lambda fact: fact.position)
        }
        await self._upsert(list(rows.values()), "booked_position")

    async def record_dispatches(self, dispatched: Iterable[DispatchedShipment]) -> None:
        rows = {
            fact.tracking_number: {
                "tracking_number": fact.tracking_number,
                "dispatched_order_id": fact.order_id,
                "dispatched_carrier": fact.carrier,
                "dispatched_tenant_id": fact.tenant_id,
                "dispatched_position": fact.position,
            }
            for fact in sorted(dispatched, key=lambda fact: fact.position)
        }
        await self._upsert(list(rows.values()), "dispatched_position")

    async def _upsert(self, rows: list[dict[str, Any]], position_column: str) -> None:
        """Insert, or overwrite this source's columns; never with an older event's word."""
        if not rows:
            return
        async with self._engine.begin() as connection:
            for start in range(0, len(rows), _ROWS_PER_STATEMENT):
                statement = insert_into(self._engine, SHIPMENTS).values(
                    rows[start : start + _ROWS_PER_STATEMENT]
                )
                columns = [name for name in rows[0] if name != "tracking_number"]
                current = SHIPMENTS.c[position_column]
                statement = statement.on_conflict_do_update(
                    index_elements=[SHIPMENTS.c.tracking_number],
                    set_={name: statement.excluded[name] for name in columns},
                    where=or_(current.is_(None), current <= statement.excluded[position_column]),
                )
                await connection.execute(statement)

    async def by_tracking_number(self, tracking_number: str) -> ShipmentRecord | None:
        query = select(SHIPMENTS).where(SHIPMENTS.c.tracking_number == tracking_number)
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return _record(row) if row is not None else None

    async def for_orders(
        self, order_ids: Sequence[str]
    ) -> Mapping[str, tuple[ShipmentRecord, ...]]:
        """Each order's shipments, by tracking number, in one query (empty when none)."""
        found: dict[str, list[ShipmentRecord]] = {order_id: [] for order_id in order_ids}
        wanted = list(found)
        async with self._engine.connect() as connection:
            for start in range(0, len(wanted), _ROWS_PER_STATEMENT):
                chunk = wanted[start : start + _ROWS_PER_STATEMENT]
                query = (
                    select(SHIPMENTS)
                    .where(
                        or_(
                            SHIPMENTS.c.booked_order_id.in_(chunk),
                            SHIPMENTS.c.dispatched_order_id.in_(chunk),
                        )
                    )
                    .order_by(SHIPMENTS.c.tracking_number)
                )
                for row in (await connection.execute(query)).all():
                    record = _record(row)
                    if record.order_id in found:
                        found[record.order_id].append(record)
        return {order_id: tuple(records) for order_id, records in found.items()}

    async def forget_after(self, position: int) -> None:
        booked = ("booking_id", "booked_order_id", "booked_carrier", "booked_tenant_id")
        dispatched = ("dispatched_order_id", "dispatched_carrier", "dispatched_tenant_id")
        async with self._engine.begin() as connection:
            await connection.execute(
                update(SHIPMENTS)
                .where(SHIPMENTS.c.booked_position > position)
                .values(**dict.fromkeys(booked), service=None, packages=None, booked_position=None)
            )
            await connection.execute(
                update(SHIPMENTS)
                .where(SHIPMENTS.c.dispatched_position > position)
                .values(**dict.fromkeys(dispatched), dispatched_position=None)
            )
            await connection.execute(
                delete(SHIPMENTS).where(
                    SHIPMENTS.c.booked_position.is_(None),
                    SHIPMENTS.c.dispatched_position.is_(None),
                )
            )

    async def count(self) -> int:
        async with self._engine.connect() as connection:
            return int(
                (await connection.execute(select(func.count()).select_from(SHIPMENTS))).scalar_one()
            )


def _record(row: Any) -> ShipmentRecord:
    positions = [p for p in (row.booked_position, row.dispatched_position) if p is not None]
    return ShipmentRecord(
        tracking_number=row.tracking_number,
        order_id=row.booked_order_id or row.dispatched_order_id,
        tenant_id=row.booked_tenant_id or row.dispatched_tenant_id,
        carrier=row.booked_carrier or row.dispatched_carrier,
        booking_id=row.booking_id,
        service=row.service,
        packages=tuple(orjson.loads(row.packages)) if row.packages else (),
        position=max(positions, default=0),
    )
