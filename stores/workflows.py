"""Workflows as rows: one per workflow (its state, inputs, why it waits or stopped) and one per
step it ran (its state, result or error, attempts), so a workflow survives any restart and a
person can read what it did.

Every change of a workflow is one transaction that moves its `version` on by one, and only
from the version the writer read (`StaleWorkflow` otherwise): two runners that both believe
they hold the runner's lease cannot interleave their writes to one workflow. The version also
numbers the workflow's change events (`process_apis.workflows.engine`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

import orjson
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    String,
    Table,
    Text,
    and_,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from stores.sql import METADATA, as_utc, insert_into

MAX_WORKFLOW_ID = 150
MAX_KIND = 40
MAX_STEP = 100
MAX_TENANT = 100
MAX_REASON = 1000


class WorkflowState(StrEnum):
    RUNNING = "RUNNING"
    """Steps are being run (or were, when a process died: the runner resumes it)."""
    WAITING = "WAITING"
    """A backend could not serve a step; it is tried again at `next_attempt_at`."""
    COMPENSATING = "COMPENSATING"
    """A step failed for good: completed steps are being undone, newest first."""
    HELD = "HELD"
    """Stopped for a person to look at (`reason`); an admin retry runs it on."""
    FAILED = "FAILED"
    """A step failed for good and what could be undone was; an admin retry starts it over."""
    COMPLETED = "COMPLETED"


UNFINISHED = (WorkflowState.RUNNING, WorkflowState.WAITING, WorkflowState.COMPENSATING)


class StepState(StrEnum):
    STARTED = "STARTED"
    """Begun and not yet answered: after a crash it runs again with the same idempotency key."""
    WAITING = "WAITING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    HELD = "HELD"


WORKFLOWS = Table(
    "workflows",
    METADATA,
    Column("workflow_id", String(MAX_WORKFLOW_ID), primary_key=True),
    Column("kind", String(MAX_KIND), nullable=False, index=True),
    Column("subject", String(MAX_WORKFLOW_ID), nullable=False),
    Column("tenant_id", String(MAX_TENANT), nullable=True, index=True),
    Column("state", String(16), nullable=False, index=True),
    Column("inputs", Text, nullable=False),
    Column("reason", Text, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Column("version", Integer, nullable=False),
    Column("run", Integer, nullable=False),
    Column("correlation_id", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

WORKFLOW_STEPS = Table(
    "workflow_steps",
    METADATA,
    Column("workflow_id", String(MAX_WORKFLOW_ID), primary_key=True),
    Column("step", String(MAX_STEP), primary_key=True),
    Column("sequence", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("result", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
)


@dataclass(frozen=True, slots=True)
class WorkflowRecord:
    workflow_id: str
    kind: str
    subject: str
    tenant_id: str | None
    state: WorkflowState
    inputs: Mapping[str, Any]
    reason: str | None
    attempts: int
    """Attempts at the current step since it last moved on."""
    next_attempt_at: datetime | None
    version: int
    run: int
    """1, then one more for each time an admin started a failed workflow over."""
    correlation_id: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StepRecord:
    step: str
    sequence: int
    """The order steps first started in (compensations come after the steps they undo)."""
    state: StepState
    result: Mapping[str, Any] | None
    error: str | None
    attempts: int
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class Transition:
    """One change of a workflow: its new state and, optionally, one step's new state."""

    state: WorkflowState
    reason: str | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    tenant_id: str | None = None
    """Set the tenant when the workflow had none yet (a step found it out)."""
    run: int | None = None
    """Start a new run (an admin's retry of a failed workflow)."""
    step: str | None = None
    step_state: StepState | None = None
    step_result: Mapping[str, Any] | None = None
    step_error: str | None = None
    completed: StepCompletion | None = None
    """The step before `step`, completed: recorded in the same transaction, so running on
    from one step to the next costs one write."""


@dataclass(frozen=True, slots=True)
class StepCompletion:
    step: str
    result: Mapping[str, Any]


class StaleWorkflow(Exception):
    """The workflow changed since it was read: whoever read it must not write on."""


class WorkflowStore(Protocol):
    async def create(self, record: WorkflowRecord) -> bool: ...

    async def get(self, workflow_id: str) -> WorkflowRecord | None: ...

    async def steps(self, workflow_id: str) -> Sequence[StepRecord]: ...

    async def transition(self, workflow: WorkflowRecord, change: Transition) -> WorkflowRecord: ...

    async def hurry(self, workflow_id: str, now: datetime) -> bool: ...

    async def due(self, now: datetime, limit: int) -> Sequence[str]: ...

    async def next_due_at(self) -> datetime | None: ...

    async def page(
        self,
        *,
        state: WorkflowState | None = None,
        kind: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> Sequence[WorkflowRecord]: ...

    async def counts(self) -> Mapping[str, int]: ...


class SqlWorkflowStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create(self, record: WorkflowRecord) -> bool:
        """Insert the workflow unless one with its id exists; True when this call made it."""
        statement = (
            insert_into(self._engine, WORKFLOWS)
            .values(
                workflow_id=record.workflow_id,
                kind=record.kind,
                subject=record.subject,
                tenant_id=record.tenant_id,
                state=record.state.value,
                inputs=_dump(record.inputs),
                reason=record.reason,
                attempts=record.attempts,
                next_attempt_at=record.next_attempt_at,
                version=record.version,
                run=record.run,
                correlation_id=record.correlation_id,
                created_at=record.created_at,
                updated_at=record.updated_at,
            )
            .on_conflict_do_nothing(index_elements=[WORKFLOWS.c.workflow_id])
            .returning(WORKFLOWS.c.workflow_id)
        )
        async with self._engine.begin() as connection:
            made = (await connection.execute(statement)).scalar_one_or_none()
        return made is not None

    async def get(self, workflow_id: str) -> WorkflowRecord | None:
        query = select(WORKFLOWS).where(WORKFLOWS.c.workflow_id == workflow_id)
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).one_or_none()
        return None if row is None else _workflow(row)

    async def steps(self, workflow_id: str) -> Sequence[StepRecord]:
        query = (
            select(WORKFLOW_STEPS)
            .where(WORKFLOW_STEPS.c.workflow_id == workflow_id)
            .order_by(WORKFLOW_STEPS.c.sequence)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_step(row) for row in rows]

    async def transition(self, workflow: WorkflowRecord, change: Transition) -> WorkflowRecord:
        """Apply `change` to `workflow` as read (its version), in one transaction; the step's
        row is made on its first change and keeps its first start time and sequence."""
        now = datetime.now(UTC)
        reason = None if change.reason is None else change.reason[:MAX_REASON]
        tenant_id = workflow.tenant_id or change.tenant_id
        values: dict[str, Any] = {
            "state": change.state.value,
            "reason": reason,
            "attempts": change.attempts,
            "next_attempt_at": change.next_attempt_at,
            "tenant_id": tenant_id,
            "version": workflow.version + 1,
            "run": change.run or workflow.run,
            "updated_at": now,
        }
        async with self._engine.begin() as connection:
            moved = await connection.execute(
                update(WORKFLOWS)
                .where(
                    WORKFLOWS.c.workflow_id == workflow.workflow_id,
                    WORKFLOWS.c.version == workflow.version,
                )
                .values(**values)
            )
            if moved.rowcount != 1:
                raise StaleWorkflow(f"workflow {workflow.workflow_id} changed meanwhile")
            if change.completed is not None:
                await self._write_step(
                    connection,
                    workflow.workflow_id,
                    Transition(
                        change.state,
                        step=change.completed.step,
                        step_state=StepState.COMPLETED,
                        step_result=change.completed.result,
                    ),
                    now,
                )
            if change.step is not None and change.step_state is not None:
                await self._write_step(connection, workflow.workflow_id, change, now)
        return WorkflowRecord(
            workflow_id=workflow.workflow_id,
            kind=workflow.kind,
            subject=workflow.subject,
            tenant_id=tenant_id,
            state=change.state,
            inputs=workflow.inputs,
            reason=reason,
            attempts=change.attempts,
            next_attempt_at=change.next_attempt_at,
            version=workflow.version + 1,
            run=change.run or workflow.run,
            correlation_id=workflow.correlation_id,
            created_at=workflow.created_at,
            updated_at=now,
        )

    async def _write_step(
        self, connection: Any, workflow_id: str, change: Transition, now: datetime
    ) -> None:
        assert change.step is not None and change.step_state is not None
        finished = change.step_state in (StepState.COMPLETED, StepState.FAILED, StepState.HELD)
        started = change.step_state is StepState.STARTED
        result = None if change.step_result is None else _dump(change.step_result)
        error = None if change.step_error is None else change.step_error[:MAX_REASON]
        sequence = (
            select(func.coalesce(func.max(WORKFLOW_STEPS.c.sequence), 0) + 1)
            .where(WORKFLOW_STEPS.c.workflow_id == workflow_id)
            .scalar_subquery()
        )
        statement = insert_into(self._engine, WORKFLOW_STEPS).values(
            workflow_id=workflow_id,
            step=change.step,
            sequence=sequence,
            state=change.step_state.value,
            result=result,
            error=error,
            attempts=1 if started else 0,
            started_at=now,
            finished_at=now if finished else None,
        )
        statement = statement.on_conflict_do_update(
            index_elements=[WORKFLOW_STEPS.c.workflow_id, WORKFLOW_STEPS.c.step],
            set_={
                "state": change.step_state.value,
                "result": result,
                "error": error,
                "attempts": WORKFLOW_STEPS.c.attempts + (1 if started else 0),
                "finished_at": now if finished else None,
            },
        )
        await connection.execute(statement)

    async def hurry(self, workflow_id: str, now: datetime) -> bool:
        """Make a waiting workflow due now (what it waited for may have happened); True when it
        was waiting. Only its schedule changes, so its version stays."""
        async with self._engine.begin() as connection:
            moved = await connection.execute(
                update(WORKFLOWS)
                .where(
                    WORKFLOWS.c.workflow_id == workflow_id,
                    WORKFLOWS.c.state == WorkflowState.WAITING.value,
                )
                .values(next_attempt_at=now)
            )
        return moved.rowcount == 1

    async def due(self, now: datetime, limit: int) -> Sequence[str]:
        """Workflows a runner should advance now: running or compensating ones (a process may
        have died in their middle) and waiting ones whose time has come; oldest change first."""
        query = (
            select(WORKFLOWS.c.workflow_id)
            .where(
                or_(
                    WORKFLOWS.c.state.in_(
                        [WorkflowState.RUNNING.value, WorkflowState.COMPENSATING.value]
                    ),
                    and_(
                        WORKFLOWS.c.state == WorkflowState.WAITING.value,
                        WORKFLOWS.c.next_attempt_at <= now,
                    ),
                )
            )
            .order_by(WORKFLOWS.c.updated_at, WORKFLOWS.c.workflow_id)
            .limit(limit)
        )
        async with self._engine.connect() as connection:
            return list((await connection.execute(query)).scalars().all())

    async def next_due_at(self) -> datetime | None:
        """When the earliest waiting workflow is due (None when none waits)."""
        query = select(func.min(WORKFLOWS.c.next_attempt_at)).where(
            WORKFLOWS.c.state == WorkflowState.WAITING.value
        )
        async with self._engine.connect() as connection:
            return as_utc((await connection.execute(query)).scalar_one_or_none())

    async def page(
        self,
        *,
        state: WorkflowState | None = None,
        kind: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> Sequence[WorkflowRecord]:
        """Workflows by id, after `after` (the last id of the previous page)."""
        query = select(WORKFLOWS).order_by(WORKFLOWS.c.workflow_id).limit(limit)
        if state is not None:
            query = query.where(WORKFLOWS.c.state == state.value)
        if kind is not None:
            query = query.where(WORKFLOWS.c.kind == kind)
        if after is not None:
            query = query.where(WORKFLOWS.c.workflow_id > after)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_workflow(row) for row in rows]

    async def stuck(self, before: datetime, limit: int) -> Sequence[WorkflowRecord]:
        """Unfinished or held workflows that have not moved since `before`, oldest first."""
        waiting = [*(state.value for state in UNFINISHED), WorkflowState.HELD.value]
        query = (
            select(WORKFLOWS)
            .where(WORKFLOWS.c.state.in_(waiting), WORKFLOWS.c.updated_at < before)
            .order_by(WORKFLOWS.c.updated_at, WORKFLOWS.c.workflow_id)
            .limit(limit)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_workflow(row) for row in rows]

    async def counts(self) -> Mapping[str, int]:
        """How many workflows are in each state."""
        query = select(WORKFLOWS.c.state, func.count()).group_by(WORKFLOWS.c.state)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return {state: int(count) for state, count in rows}


def _dump(value: Mapping[str, Any]) -> str:
    return orjson.dumps(dict(value)).decode()


def _workflow(row: Any) -> WorkflowRecord:
    return WorkflowRecord(
        workflow_id=row.workflow_id,
        kind=row.kind,
        subject=row.subject,
        tenant_id=row.tenant_id,
        state=WorkflowState(row.state),
        inputs=orjson.loads(row.inputs),
        reason=row.reason,
        attempts=int(row.attempts),
        next_attempt_at=as_utc(row.next_attempt_at),
        version=int(row.version),
        run=int(row.run),
        correlation_id=row.correlation_id,
        created_at=as_utc(row.created_at) or datetime.now(UTC),
        updated_at=as_utc(row.updated_at) or datetime.now(UTC),
    )


def _step(row: Any) -> StepRecord:
    return StepRecord(
        step=row.step,
        sequence=int(row.sequence),
        state=StepState(row.state),
        result=None if row.result is None else orjson.loads(row.result),
        error=row.error,
        attempts=int(row.attempts),
        started_at=as_utc(row.started_at) or datetime.now(UTC),
        finished_at=as_utc(row.finished_at),
    )
