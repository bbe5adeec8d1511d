"""The figures integration owners watch, read from the stores in a few grouped queries each.

Each figure is one or two aggregate statements (counts grouped by a handful of columns, with a
`LIMIT` wherever the groups come from data), so reading them costs the same whatever a caller
sent: the dead-letter reasons are free text, so only the `top_reasons` most frequent of each
source are named and the rest are summed as `other`.

- dead letters not yet replayed into the log, per source and reason;
- the last reconciliation run: when, how many pairs it compared and the variances it found,
  per warehouse (the warehouses with most variances, up to `top_warehouses`);
- shipments whose last milestone is older than a cutoff and that are neither delivered nor
  returned (a carrier gone quiet);
- workflows of each kind and state that are unfinished or held and have not moved since a
  cutoff (stuck in a step), and the invoices (ship-to-invoice workflows) held or waiting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.shipments import TERMINAL_STATUSES
from stores.dead_letters import DEAD_LETTERS
from stores.milestones import MILESTONES
from stores.reconciliation import RUNS, VARIANCES
from stores.sql import as_utc
from stores.workflows import UNFINISHED, WORKFLOWS, WorkflowState

OTHER = "other"
INVOICE_KIND = "ship-to-invoice"
REASON_LENGTH = 80
"""Characters of a dead letter's reason kept in its label."""


@dataclass(frozen=True, slots=True)
class LastReconciliation:
    finished_at: datetime
    compared: int
    variances: int
    by_warehouse: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class StoreFigures:
    dead_letters: Mapping[tuple[str, str], int]
    """Letters waiting, by (source, reason); reasons past the top ones are `other`."""
    reconciliation: LastReconciliation | None
    quiet_shipments: int
    stuck_workflows: Mapping[tuple[str, str], int]
    """By (kind, state)."""
    held_invoices: Mapping[str, int]
    """Ship-to-invoice workflows held for a person or waiting for a backend, by state."""


async def read_figures(
    engine: AsyncEngine,
    *,
    quiet_since: datetime,
    stuck_since: datetime,
    top_reasons: int = 10,
    top_warehouses: int = 50,
) -> StoreFigures:
    async with engine.connect() as connection:
        pending = or_(
            DEAD_LETTERS.c.replay_outcome.is_(None),
            DEAD_LETTERS.c.replay_outcome.not_like("accepted%"),
        )
        totals = {
            source: int(count)
            for source, count in (
                await connection.execute(
                    select(DEAD_LETTERS.c.source, func.count())
                    .where(pending)
                    .group_by(DEAD_LETTERS.c.source)
                    .order_by(func.count().desc())
                    .limit(100)
                )
            ).all()
        }
        dead_letters: dict[tuple[str, str], int] = {}
        for source, total in totals.items():
            named = 0
            reasons = (
                await connection.execute(
                    select(DEAD_LETTERS.c.reason, func.count())
                    .where(pending, DEAD_LETTERS.c.source == source)
                    .group_by(DEAD_LETTERS.c.reason)
                    .order_by(func.count().desc(), DEAD_LETTERS.c.reason)
                    .limit(top_reasons)
                )
            ).all()
            for reason, count in reasons:
                key = (source, _reason_label(reason))
                dead_letters[key] = dead_letters.get(key, 0) + int(count)
                named += int(count)
            if total > named:
                dead_letters[(source, OTHER)] = dead_letters.get((source, OTHER), 0) + total - named

        reconciliation = None
        last = (
            await connection.execute(
                select(RUNS).order_by(RUNS.c.started_at.desc(), RUNS.c.run_id.desc()).limit(1)
            )
        ).first()
        if last is not None:
            by_warehouse = (
                await connection.execute(
                    select(VARIANCES.c.warehouse_id, func.count())
                    .where(VARIANCES.c.run_id == last.run_id)
                    .group_by(VARIANCES.c.warehouse_id)
                    .order_by(func.count().desc(), VARIANCES.c.warehouse_id)
                    .limit(top_warehouses)
                )
            ).all()
            finished = as_utc(last.finished_at)
            assert finished is not None
            reconciliation = LastReconciliation(
                finished_at=finished,
                compared=int(last.compared),
                variances=int(last.variances),
                by_warehouse={warehouse: int(count) for warehouse, count in by_warehouse},
            )

        terminal = [status.value for status in TERMINAL_STATUSES]
        shipments = (
            select(MILESTONES.c.tracking_number)
            .group_by(MILESTONES.c.tracking_number)
            .having(func.max(MILESTONES.c.occurred_at) < quiet_since)
            .having(
                func.sum(case((MILESTONES.c.status.in_(terminal), 1), else_=0)) == 0,
            )
            .subquery()
        )
        quiet = (await connection.execute(select(func.count()).select_from(shipments))).scalar()

        waiting = [*(state.value for state in UNFINISHED), WorkflowState.HELD.value]
        stuck = (
            await connection.execute(
                select(WORKFLOWS.c.kind, WORKFLOWS.c.state, func.count())
                .where(WORKFLOWS.c.state.in_(waiting), WORKFLOWS.c.updated_at < stuck_since)
                .group_by(WORKFLOWS.c.kind, WORKFLOWS.c.state)
                .limit(200)
            )
        ).all()
        invoices = (
            await connection.execute(
                select(WORKFLOWS.c.state, func.count())
                .where(
                    WORKFLOWS.c.kind == INVOICE_KIND,
                    WORKFLOWS.c.state.in_([WorkflowState.HELD.value, WorkflowState.WAITING.value]),
                )
                .group_by(WORKFLOWS.c.state)
            )
        ).all()
    return StoreFigures(
        dead_letters=dead_letters,
        reconciliation=reconciliation,
        quiet_shipments=int(quiet or 0),
        stuck_workflows={(kind, state): int(count) for kind, state, count in stuck},
        held_invoices={state: int(count) for state, count in invoices},
    )


def _reason_label(reason: str) -> str:
    """A reason as a label: one line, at most `REASON_LENGTH` characters."""
    line = " ".join(reason.split())
    return line if len(line) <= REASON_LENGTH else line[: REASON_LENGTH - 1] + "…"
