"""The figures integration owners watch, read from real stores on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain import Milestone, MilestoneStatus
from stores import SqlDeadLetterStore, SqlMilestoneStore, create_tables, open_engine
from stores.figures import read_figures
from stores.reconciliation import ReconciliationRun, SqlReconciliationStore, StockVariance
from stores.workflows import SqlWorkflowStore, WorkflowRecord, WorkflowState
from tests.conftest import fresh_postgres_database

NOW = datetime.now(UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request, tmp_path) -> AsyncIterator:
    if request.param == "postgresql":
        with fresh_postgres_database() as url:
            engine = open_engine(url)
            await create_tables(engine)
            yield engine
            await engine.dispose()
        return
    engine = open_engine(f"sqlite+aiosqlite:///{tmp_path / 'figures.sqlite3'}")
    await create_tables(engine)
    yield engine
    await engine.dispose()


async def letter(store: SqlDeadLetterStore, source: str, reason: str, body: str) -> str:
    kept = await store.put(
        source=source,
        reason=reason,
        content_type="application/json",
        headers={},
        body=body.encode(),
        correlation_id="c-1",
    )
    return kept.dead_letter_id


def milestone(event_id: str, tracking: str, status: MilestoneStatus, age: timedelta) -> Milestone:
    return Milestone(
        event_id=event_id,
        tracking_number=tracking,
        status=status,
        occurred_at=NOW - age,
        carrier="SWFT",
        carrier_code=status.value[:2],
    )


def workflow(workflow_id: str, kind: str, state: WorkflowState, age: timedelta) -> WorkflowRecord:
    return WorkflowRecord(
        workflow_id=workflow_id,
        kind=kind,
        subject=workflow_id,
        tenant_id="C-1001",
        state=state,
        inputs={},
        reason=None,
        attempts=0,
        next_attempt_at=None,
        version=1,
        run=1,
        correlation_id="c-1",
        created_at=NOW - age,
        updated_at=NOW - age,
    )


async def test_each_figure_counts_what_it_says(engine) -> None:
    letters = SqlDeadLetterStore(engine)
    await letter(letters, "wms", "body.data: missing", "a")
    await letter(letters, "wms", "body.data: missing", "b")
    await letter(letters, "wms", "unknown wms status code 'ZZ'", "c")
    replayed = await letter(letters, "wms", "body.data: missing", "d")
    await letters.mark_replayed(replayed, "accepted 1")
    still_bad = await letter(letters, "heritage", "segment 3:\nnot a date", "e")
    await letters.mark_replayed(still_bad, "rejected: segment 3: not a date")

    runs = SqlReconciliationStore(engine)
    older = ReconciliationRun("run-1", NOW - timedelta(hours=2), NOW - timedelta(hours=2), 9, 9)
    await runs.record(older, [StockVariance("WH-OLD", "SKU-1", "EA", Decimal(1), Decimal(2))])
    latest = ReconciliationRun(
        "run-2", NOW - timedelta(hours=1), NOW - timedelta(minutes=59), 40, 3
    )
    await runs.record(
        latest,
        [
            StockVariance("WH-AMS", "SKU-1", "EA", Decimal(10), Decimal(8)),
            StockVariance("WH-AMS", "SKU-2", "EA", Decimal(5), Decimal(6)),
            StockVariance("WH-RTM", "SKU-1", "EA", Decimal(1), Decimal(0)),
        ],
    )

    milestones = SqlMilestoneStore(engine)
    await milestones.add(
        [
            milestone("q1", "T-QUIET", MilestoneStatus.INFO_RECEIVED, timedelta(days=4)),
            milestone("q2", "T-QUIET", MilestoneStatus.IN_TRANSIT, timedelta(days=3)),
            milestone("d1", "T-DONE", MilestoneStatus.IN_TRANSIT, timedelta(days=4)),
            milestone("d2", "T-DONE", MilestoneStatus.DELIVERED, timedelta(days=3)),
            milestone("m1", "T-MOVING", MilestoneStatus.IN_TRANSIT, timedelta(days=4)),
            milestone("m2", "T-MOVING", MilestoneStatus.OUT_FOR_DELIVERY, timedelta(hours=1)),
        ]
    )

    workflows = SqlWorkflowStore(engine)
    old, recent = timedelta(hours=3), timedelta(minutes=1)
    for record in (
        workflow("w1", "ship-to-invoice", WorkflowState.HELD, old),
        workflow("w2", "ship-to-invoice", WorkflowState.WAITING, recent),
        workflow("w3", "order-to-ship", WorkflowState.RUNNING, old),
        workflow("w4", "order-to-ship", WorkflowState.COMPLETED, old),
        workflow("w5", "order-to-ship", WorkflowState.WAITING, recent),
    ):
        assert await workflows.create(record)

    figures = await read_figures(
        engine,
        quiet_since=NOW - timedelta(days=1),
        stuck_since=NOW - timedelta(hours=1),
        top_reasons=1,
    )
    assert figures.dead_letters == {
        ("wms", "body.data: missing"): 2,
        ("wms", "other"): 1,
        ("heritage", "segment 3: not a date"): 1,
    }
    assert figures.reconciliation is not None
    assert figures.reconciliation.compared == 40 and figures.reconciliation.variances == 3
    assert figures.reconciliation.by_warehouse == {"WH-AMS": 2, "WH-RTM": 1}
    assert abs(figures.reconciliation.finished_at - latest.finished_at) < timedelta(seconds=1)
    assert figures.quiet_shipments == 1
    assert figures.stuck_workflows == {
        ("ship-to-invoice", "HELD"): 1,
        ("order-to-ship", "RUNNING"): 1,
    }
    assert figures.held_invoices == {"HELD": 1, "WAITING": 1}


async def test_empty_stores_have_empty_figures(engine) -> None:
    figures = await read_figures(engine, quiet_since=NOW, stuck_since=NOW)
    assert figures.dead_letters == {} and figures.reconciliation is None
    assert figures.quiet_shipments == 0
    assert figures.stuck_workflows == {} and figures.held_invoices == {}
