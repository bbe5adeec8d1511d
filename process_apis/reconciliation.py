"""Stock reconciliation: the ERP's book stock against the WMS's count, per warehouse and item,
on a schedule (one process per deployment, under a lease), every difference recorded as a
variance for a person to look into. The ERP owns valuation and the WMS owns on-hand by bin
(`domain.system_of_record`); neither is corrected here, only the difference is made visible.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from process_apis.consumers import stopped_within
from stores.leases import LeaseStore
from stores.reconciliation import ReconciliationRun, ReconciliationStore, StockVariance
from system_apis.erp.client import ErpClient
from system_apis.wms.client import WmsClient

logger = logging.getLogger(__name__)

RECONCILIATION_LEASE = "reconciliation:stock"


def variances_between(
    booked: Mapping[tuple[str, str], tuple[Decimal, str]],
    counted: Mapping[tuple[str, str], tuple[Decimal, str]],
) -> list[StockVariance]:
    """Every (warehouse, item) whose quantities differ; one side missing counts as zero."""
    found = []
    for key in sorted(set(booked) | set(counted)):
        erp_quantity, erp_unit = booked.get(key, (Decimal(0), ""))
        wms_quantity, wms_unit = counted.get(key, (Decimal(0), ""))
        if erp_quantity != wms_quantity:
            found.append(
                StockVariance(
                    warehouse_id=key[0],
                    sku=key[1],
                    unit=erp_unit or wms_unit,
                    erp_quantity=erp_quantity,
                    wms_quantity=wms_quantity,
                )
            )
    return found


@dataclass(frozen=True, slots=True)
class StockReconciliation:
    erp: ErpClient
    wms: WmsClient
    store: ReconciliationStore

    async def run(self) -> ReconciliationRun:
        """Compare now and record the run with its variances; backend errors propagate (the
        schedule tries again later, nothing half-recorded)."""
        started = datetime.now(UTC)
        booked: dict[tuple[str, str], tuple[Decimal, str]] = {}
        async for stock in self.erp.book_stock():
            booked[(stock.warehouse_id, stock.sku)] = (
                stock.quantity.value,
                stock.quantity.unit.value,
            )
        totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        units: dict[tuple[str, str], str] = {}
        async for position in self.wms.inventory(page_size=500):
            key = (position.location.warehouse_id, position.sku)
            totals[key] += position.on_hand
            units[key] = position.unit.value
        counted = {key: (total, units[key]) for key, total in totals.items()}
        variances = variances_between(booked, counted)
        run = ReconciliationRun(
            run_id=f"rec-{started.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}",
            started_at=started,
            finished_at=datetime.now(UTC),
            compared=len(set(booked) | set(counted)),
            variances=len(variances),
        )
        await self.store.record(run, variances)
        return run


@dataclass(slots=True)
class ReconciliationSchedule:
    """Runs the reconciliation every `interval_s` in one process of a deployment; the last
    run's time is read from the store, so a restart does not run it early or late."""

    reconciliation: StockReconciliation
    leases: LeaseStore
    holder_id: str
    interval_s: float
    lease_ttl_s: float = 60.0
    failure_backoff_s: float = 30.0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            wait_s = self.lease_ttl_s / 3
            try:
                if await self.leases.acquire(
                    RECONCILIATION_LEASE, self.holder_id, self.lease_ttl_s
                ):
                    latest = await self.reconciliation.store.latest()
                    due = latest is None or datetime.now(UTC) - latest.started_at >= timedelta(
                        seconds=self.interval_s
                    )
                    if due:
                        run = await self._run_holding_the_lease()
                        logger.info(
                            "stock reconciliation %s: %d variances", run.run_id, run.variances
                        )
            except Exception:
                logger.exception("stock reconciliation failed; trying again later")
                wait_s = self.failure_backoff_s
            if await stopped_within(stop, wait_s):
                return

    async def _run_holding_the_lease(self) -> ReconciliationRun:
        """A run reads both backends whole and may outlast the lease: it is renewed meanwhile,
        so no other process starts the same run."""

        async def renew() -> None:
            while True:
                await asyncio.sleep(self.lease_ttl_s / 3)
                try:
                    await self.leases.acquire(
                        RECONCILIATION_LEASE, self.holder_id, self.lease_ttl_s
                    )
                except Exception:  # the run goes on; the next renewal may succeed
                    logger.warning("renewing the reconciliation lease failed", exc_info=True)

        keeper = asyncio.create_task(renew())
        try:
            return await self.reconciliation.run()
        finally:
            keeper.cancel()
            with suppress(asyncio.CancelledError):
                await keeper
