"""Stock reconciliation: the ERP's book stock against the WMS's count through the reference
backends, each difference recorded; the comparison rule checked over any pair of listings; the
schedule runs once per interval; runs and variances kept on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from process_apis.reconciliation import (
    ReconciliationSchedule,
    StockReconciliation,
    variances_between,
)
from stores import open_stores
from stores.reconciliation import ReconciliationRun, StockVariance

KEYS = st.tuples(st.sampled_from(["WH-A", "WH-B"]), st.sampled_from(["S1", "S2", "S3", "S4"]))
LISTING = st.dictionaries(
    KEYS, st.tuples(st.integers(0, 50).map(Decimal), st.just("EA")), max_size=8
)


@given(booked=LISTING, counted=LISTING)
def test_a_variance_is_every_pair_whose_quantities_differ_a_missing_side_counting_zero(
    booked, counted
):
    found = variances_between(booked, counted)
    keys = [(v.warehouse_id, v.sku) for v in found]
    assert keys == sorted(keys), "in warehouse and item order"
    expected = {
        key
        for key in set(booked) | set(counted)
        if booked.get(key, (Decimal(0),))[0] != counted.get(key, (Decimal(0),))[0]
    }
    assert set(keys) == expected
    for variance in found:
        key = (variance.warehouse_id, variance.sku)
        assert variance.difference == counted.get(key, (0,))[0] - booked.get(key, (0,))[0]
        assert variance.unit == "EA"


async def test_a_warehouse_count_the_erp_never_heard_of_is_a_recorded_variance(
    sandbox, clients, stores
):
    reconciliation = StockReconciliation(clients.erp, clients.wms, stores.reconciliation)
    before = await reconciliation.run()
    assert before.compared > 0
    async with httpx.AsyncClient(timeout=30.0) as client:
        positions = await client.get(
            f"{sandbox.wms}/v2/inventory",
            params={"warehouse": "WH-RTM", "limit": 1},
            headers=sandbox.headers("wms"),
        )
        position = positions.json()["data"][0]
        adjusted = await client.post(
            f"{sandbox.wms}/v2/adjustments",
            json={
                "warehouse": "WH-RTM",
                "bin": position["bin"],
                "sku": position["sku"],
                "delta": 5,
                "reason": "FOUND",
            },
            headers=sandbox.headers("wms") | {"Idempotency-Key": uuid.uuid4().hex},
        )
        assert adjusted.status_code == 201, adjusted.text
    after = await reconciliation.run()
    key = ("WH-RTM", position["sku"])

    async def difference(run: ReconciliationRun) -> Decimal:
        variances = await stores.reconciliation.variances(run.run_id, limit=10_000)
        found = {(v.warehouse_id, v.sku): v.difference for v in variances}
        return found.get(key, Decimal(0))

    assert await difference(after) == await difference(before) + 5
    assert (await stores.reconciliation.latest()).run_id == after.run_id


async def test_the_schedule_reconciles_once_per_interval_in_one_process(clients, stores):
    reconciliation = StockReconciliation(clients.erp, clients.wms, stores.reconciliation)
    schedules = [
        ReconciliationSchedule(reconciliation, stores.leases, holder, 3600, lease_ttl_s=1.0)
        for holder in ("process-a", "process-b")
    ]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(schedule.run(stop)) for schedule in schedules]
    try:
        for _ in range(200):
            if await stores.reconciliation.latest() is not None:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.5)  # both schedules look again: the last run is not an hour old
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert len(await stores.reconciliation.runs(10)) == 1


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
async def test_runs_and_their_variances_are_kept_whole_and_paged(request, tmp_path, engine):
    url = (
        request.getfixturevalue("postgres_url")
        if engine == "postgresql"
        else f"sqlite+aiosqlite:///{tmp_path / 'state.sqlite3'}"
    )
    opened = await open_stores(url)
    try:
        now = datetime.now(UTC)
        run = ReconciliationRun(f"rec-{uuid.uuid4().hex}", now, now, compared=3, variances=3)
        variances = [
            StockVariance("WH-B", "S1", "EA", Decimal("1"), Decimal("0")),
            StockVariance("WH-A", "S2", "EA", Decimal("2.5"), Decimal("4")),
            StockVariance("WH-A", "S1", "EA", Decimal("0"), Decimal("7")),
        ]
        await opened.reconciliation.record(run, variances)
        first = await opened.reconciliation.variances(run.run_id, limit=2)
        assert [(v.warehouse_id, v.sku) for v in first] == [("WH-A", "S1"), ("WH-A", "S2")]
        rest = await opened.reconciliation.variances(run.run_id, after=("WH-A", "S2"), limit=2)
        assert [(v.warehouse_id, v.sku, v.difference) for v in rest] == [("WH-B", "S1", -1)]
        assert (await opened.reconciliation.run(run.run_id)) == run
    finally:
        await opened.close()
