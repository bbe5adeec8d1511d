"""Reconciliation runs and the stock variances each found: the ERP's book stock against the
WMS's count, per warehouse and item. A run and its variances are written in one transaction,
so a run is listed only whole."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import Column, DateTime, Integer, String, Table, insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine

from stores.sql import METADATA, as_utc

RUNS = Table(
    "reconciliation_runs",
    METADATA,
    Column("run_id", String(40), primary_key=True),
    Column("started_at", DateTime(timezone=True), nullable=False, index=True),
    Column("finished_at", DateTime(timezone=True), nullable=False),
    Column("compared", Integer, nullable=False),
    Column("variances", Integer, nullable=False),
)

VARIANCES = Table(
    "stock_variances",
    METADATA,
    Column("run_id", String(40), primary_key=True),
    Column("warehouse_id", String(64), primary_key=True),
    Column("sku", String(64), primary_key=True),
    Column("unit", String(8), nullable=False),
    Column("erp_quantity", String(40), nullable=False),
    Column("wms_quantity", String(40), nullable=False),
    Column("difference", String(40), nullable=False),
)


@dataclass(frozen=True, slots=True)
class StockVariance:
    warehouse_id: str
    sku: str
    unit: str
    erp_quantity: Decimal
    wms_quantity: Decimal

    @property
    def difference(self) -> Decimal:
        """What the warehouse counts beyond the ERP's books (negative: less than booked)."""
        return self.wms_quantity - self.erp_quantity


@dataclass(frozen=True, slots=True)
class ReconciliationRun:
    run_id: str
    started_at: datetime
    finished_at: datetime
    compared: int
    """Warehouse and item pairs compared."""
    variances: int


class ReconciliationStore(Protocol):
    async def record(self, run: ReconciliationRun, variances: Sequence[StockVariance]) -> None: ...

    async def latest(self) -> ReconciliationRun | None: ...

    async def runs(self, limit: int) -> Sequence[ReconciliationRun]: ...

    async def run(self, run_id: str) -> ReconciliationRun | None: ...

    async def variances(
        self, run_id: str, *, after: tuple[str, str] | None = None, limit: int = 100
    ) -> Sequence[StockVariance]: ...


class SqlReconciliationStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def record(self, run: ReconciliationRun, variances: Sequence[StockVariance]) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                insert(RUNS).values(
                    run_id=run.run_id,
                    started_at=run.started_at,
                    finished_at=run.finished_at,
                    compared=run.compared,
                    variances=run.variances,
                )
            )
            if variances:
                await connection.execute(
                    insert(VARIANCES),
                    [
                        {
                            "run_id": run.run_id,
                            "warehouse_id": v.warehouse_id,
                            "sku": v.sku,
                            "unit": v.unit,
                            "erp_quantity": str(v.erp_quantity),
                            "wms_quantity": str(v.wms_quantity),
                            "difference": str(v.difference),
                        }
                        for v in variances
                    ],
                )

    async def latest(self) -> ReconciliationRun | None:
        runs = await self.runs(1)
        return runs[0] if runs else None

    async def runs(self, limit: int) -> Sequence[ReconciliationRun]:
        query = select(RUNS).order_by(RUNS.c.started_at.desc(), RUNS.c.run_id.desc()).limit(limit)
        async with self._engine.connect() as connection:
            return [_run(row) for row in (await connection.execute(query)).all()]

    async def run(self, run_id: str) -> ReconciliationRun | None:
        query = select(RUNS).where(RUNS.c.run_id == run_id)
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).one_or_none()
        return None if row is None else _run(row)

    async def variances(
        self, run_id: str, *, after: tuple[str, str] | None = None, limit: int = 100
    ) -> Sequence[StockVariance]:
        """A run's variances by warehouse and item, after `after` (the last of a page)."""
        query = (
            select(VARIANCES)
            .where(VARIANCES.c.run_id == run_id)
            .order_by(VARIANCES.c.warehouse_id, VARIANCES.c.sku)
            .limit(limit)
        )
        if after is not None:
            query = query.where(tuple_(VARIANCES.c.warehouse_id, VARIANCES.c.sku) > tuple_(*after))
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [
            StockVariance(
                warehouse_id=row.warehouse_id,
                sku=row.sku,
                unit=row.unit,
                erp_quantity=Decimal(row.erp_quantity),
                wms_quantity=Decimal(row.wms_quantity),
            )
            for row in rows
        ]


def _run(row: Any) -> ReconciliationRun:
    return ReconciliationRun(
        run_id=row.run_id,
        started_at=as_utc(row.started_at) or datetime.now(UTC),
        finished_at=as_utc(row.finished_at) or datetime.now(UTC),
        compared=int(row.compared),
        variances=int(row.variances),
    )
