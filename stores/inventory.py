"""The inventory read model: one row per (SKU, warehouse, bin), every stock state apart.

Written only by the inventory projection (`process_apis.projections_inventory`) from the event
log: positions the WMS pushed (`inventory.adjusted`) and positions read from its stock listing
(`inventory.position`). A row never moves backwards: it keeps the position with the highest
WMS revision seen, so events arriving late, twice or out of order change nothing, and any
interleaving of the same events leaves the same rows. Each row remembers the log position of
the event it holds, so a rebuild from a point in time forgets exactly what later events
brought (`forget_after`).

Counts are stored as decimal text: exact on every engine, and the read model never sums them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    String,
    Table,
    Text,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.inventory import POSITION_TEXT_LIMITS, STOCK_STATES, InventoryPosition
from domain.locations import Location
from domain.units import UnitOfMeasure
from stores.sql import METADATA, as_utc, insert_into

_POSITION = BigInteger().with_variant(Integer, "sqlite")
_ROWS_PER_STATEMENT = 200
"""Rows per upsert: 14 parameters each stay under every engine's bound on parameters."""
_KEYS_PER_QUERY = 400

INVENTORY_POSITIONS = Table(
    "inventory_positions",
    METADATA,
    Column("sku", String(POSITION_TEXT_LIMITS["sku"]), primary_key=True),
    Column("warehouse_id", String(POSITION_TEXT_LIMITS["warehouse_id"]), primary_key=True),
    Column("bin", String(POSITION_TEXT_LIMITS["bin"]), primary_key=True),
    Column("unit", String(8), nullable=False),
    *(Column(state, Text, nullable=False) for state in STOCK_STATES),
    Column("updated_at", DateTime(timezone=True), nullable=True),
    Column("revision", BigInteger, nullable=False),
    Column("position", _POSITION, nullable=False, index=True),
)

PositionKey = tuple[str, str, str]
"""(warehouse id, bin, SKU)."""


@dataclass(frozen=True, slots=True)
class PositionFact:
    """A position as an event said it, at `position` in the log; `position.revision` is set."""

    position: InventoryPosition
    log_position: int


class InventoryStore(Protocol):
    async def record(self, facts: Iterable[PositionFact]) -> None: ...

    async def page(
        self, sku: str, warehouse_id: str | None, *, after: Location | None, limit: int
    ) -> Sequence[InventoryPosition]: ...

    async def revisions(self, keys: Iterable[PositionKey]) -> Mapping[PositionKey, int]: ...

    async def forget_after(self, position: int) -> None: ...


def position_key(position: InventoryPosition) -> PositionKey:
    return (position.location.warehouse_id, position.location.bin, position.sku)


class SqlInventoryStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        table = INVENTORY_POSITIONS
        self._revisions = select(
            table.c.warehouse_id, table.c.bin, table.c.sku, table.c.revision
        ).where(table.c.sku.in_(bindparam("skus", expanding=True)))

    async def record(self, facts: Iterable[PositionFact]) -> None:
        """Keep each position's highest revision; on a tie, the copy met first in the log
        (copies of one revision say the same thing)."""
        newest: dict[PositionKey, PositionFact] = {}
        for fact in sorted(facts, key=lambda fact: fact.log_position):
            key = position_key(fact.position)
            held = newest.get(key)
            if held is None or _revision(held) < _revision(fact):
                newest[key] = fact
        rows = [_row(fact) for fact in newest.values()]
        if not rows:
            return
        async with self._engine.begin() as connection:
            for start in range(0, len(rows), _ROWS_PER_STATEMENT):
                statement = insert_into(self._engine, INVENTORY_POSITIONS).values(
                    rows[start : start + _ROWS_PER_STATEMENT]
                )
                current = INVENTORY_POSITIONS.c.revision
                statement = statement.on_conflict_do_update(
                    index_elements=[
                        INVENTORY_POSITIONS.c.sku,
                        INVENTORY_POSITIONS.c.warehouse_id,
                        INVENTORY_POSITIONS.c.bin,
                    ],
                    set_={name: statement.excluded[name] for name in _VALUE_COLUMNS},
                    where=current < statement.excluded.revision,
                )
                await connection.execute(statement)

    async def page(
        self, sku: str, warehouse_id: str | None, *, after: Location | None, limit: int
    ) -> Sequence[InventoryPosition]:
        """Up to `limit` positions of `sku` (in one warehouse, or all) in (warehouse, bin)
        order, from just after `after`: a keyset, so rows that appear meanwhile never shift a
        page and none is skipped or repeated."""
        table = INVENTORY_POSITIONS
        query = select(table).where(table.c.sku == sku)
        if warehouse_id is not None:
            query = query.where(table.c.warehouse_id == warehouse_id)
        if after is not None:
            query = query.where(
                or_(
                    table.c.warehouse_id > after.warehouse_id,
                    and_(table.c.warehouse_id == after.warehouse_id, table.c.bin > after.bin),
                )
            )
        query = query.order_by(table.c.warehouse_id, table.c.bin).limit(limit)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_position(row) for row in rows]

    async def revisions(self, keys: Iterable[PositionKey]) -> Mapping[PositionKey, int]:
        """The revision held for each of `keys` that the read model has (the stock sweep asks
        for a whole page at a time: rows are unpacked by place, not looked up by name)."""
        wanted = set(keys)
        skus = sorted({sku for _, _, sku in wanted})
        found: dict[PositionKey, int] = {}
        async with self._engine.connect() as connection:
            for start in range(0, len(skus), _KEYS_PER_QUERY):
                chunk = skus[start : start + _KEYS_PER_QUERY]
                result = await connection.execute(self._revisions, {"skus": chunk})
                for key_and_revision in result:
                    key = key_and_revision[:3]
                    if key in wanted:
                        found[key] = int(key_and_revision[3])
        return found

    async def forget_after(self, position: int) -> None:
        """Drop the rows later events brought; replaying the log from `position` brings each
        back as the highest revision after it, which is the highest of all (a row held at or
        before `position` was never overtaken)."""
        async with self._engine.begin() as connection:
            await connection.execute(
                delete(INVENTORY_POSITIONS).where(INVENTORY_POSITIONS.c.position > position)
            )

    async def count(self) -> int:
        async with self._engine.connect() as connection:
            query = select(func.count()).select_from(INVENTORY_POSITIONS)
            return int((await connection.execute(query)).scalar_one())


_VALUE_COLUMNS = ("unit", *STOCK_STATES, "updated_at", "revision", "position")


def _revision(fact: PositionFact) -> int:
    return fact.position.revision or 0


def _row(fact: PositionFact) -> dict[str, Any]:
    position = fact.position
    return {
        "sku": position.sku,
        "warehouse_id": position.location.warehouse_id,
        "bin": position.location.bin,
        "unit": position.unit.value,
        **{state: str(getattr(position, state)) for state in STOCK_STATES},
        "updated_at": position.updated_at.astimezone(UTC) if position.updated_at else None,
        "revision": _revision(fact),
        "position": fact.log_position,
    }


def _position(row: Any) -> InventoryPosition:
    return InventoryPosition(
        sku=row.sku,
        location=Location(warehouse_id=row.warehouse_id, bin=row.bin),
        unit=UnitOfMeasure(row.unit),
        **{state: Decimal(getattr(row, state)) for state in STOCK_STATES},
        updated_at=as_utc(row.updated_at),
        revision=int(row.revision),
    )
