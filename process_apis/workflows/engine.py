"""The workflow engine: a workflow is data, and running it is moving that data on, one step at
a time, each step's outcome recorded before the next begins.

A definition is an ordered list of steps. A step is an async function given the workflow's
inputs, the results of the steps before it and an idempotency key derived from (workflow id,
step), which it hands to every backend write: a step interrupted by a crash runs again with
the same key and the backend answers with what it did the first time, so no effect happens
twice. A step answers a JSON result, or raises:

- `RetryLater`: a backend cannot serve it now (down, in maintenance, throttling); the
  workflow waits and the runner tries the step again after a growing pause;
- `StepFailed`: a business failure; the completed steps are undone newest first by their
  compensations (steps too, recorded as `compensate:<step>`), then the workflow has FAILED;
- `HoldForReview`: the workflow stops for a person (HELD, with the reason); an admin retry
  runs the step again.

An operator may cancel a workflow that waits or is held: its completed steps are undone as
after a business failure, and it ends FAILED with the operator's reason (a `cancel` row marks
the run, so a runner resuming it after a crash goes on undoing). A running one is not
cancelled: the step in flight may be taking effect at a backend right now, and only a
completed step's effect is known well enough to undo.

Every change of a workflow appends one `workflow.changed` event to the log (its id is the
workflow id and version, so re-announcing after a crash never duplicates one), which the live
`workflowChanged` subscription delivers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.events import EventEnvelope, SourceSystem
from stores.event_log import AppendSignal, EventLog
from stores.workflows import (
    UNFINISHED,
    StaleWorkflow,
    StepCompletion,
    StepRecord,
    StepState,
    Transition,
    WorkflowRecord,
    WorkflowState,
    WorkflowStore,
)

logger = logging.getLogger(__name__)

WORKFLOW_CHANGED = "workflow.changed"
AGGREGATE_TYPE = "Workflow"
COMPENSATION_PREFIX = "compensate:"
CANCEL_STEP = "cancel"
"""The row that marks a run cancelled by an operator; no definition may name a step so."""
CANCELLED_REASON = "cancelled by an operator"
CANCELLABLE = (WorkflowState.WAITING, WorkflowState.HELD)
MAX_REMEMBERED = 100_000
"""Workflows whose last announced version a process remembers (then it starts afresh)."""


class RetryLater(Exception):
    """The step could not be done now; try it again later (`retry_after_s`: the backend's own
    estimate, when it gave one)."""

    def __init__(self, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


class StepFailed(Exception):
    """The step cannot succeed (a business refusal): undo what was done, then stop."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class HoldForReview(Exception):
    """The step found something a person must decide; nothing is undone."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotRetryable(Exception):
    """Only a FAILED or HELD workflow can be retried."""


class NotCancellable(Exception):
    """Only a WAITING or HELD workflow can be cancelled."""


class UnknownWorkflowKind(Exception):
    pass


@dataclass(frozen=True, slots=True)
class StepInput:
    workflow_id: str
    step: str
    inputs: Mapping[str, Any]
    results: Mapping[str, Mapping[str, Any]]
    """Results of the steps completed before this one, by step name."""
    idempotency_key: str
    """`{workflow id}:{step}`: the same for every attempt at this step, distinct per step."""
    correlation_id: str
    tenant_id: str | None


StepFunction = Callable[[StepInput], Awaitable[Mapping[str, Any]]]


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    run: StepFunction
    compensate: StepFunction | None = None
    """Undoes `run` once it completed; it must be idempotent too (it gets its own key)."""


@dataclass(frozen=True, slots=True)
class WorkflowDefinition:
    kind: str
    steps: tuple[Step, ...]

    def __post_init__(self) -> None:
        names = [step.name for step in self.steps]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"{self.kind}: steps must be named, each name once")
        for name in names:
            if name.startswith(COMPENSATION_PREFIX) or "#" in name or name == CANCEL_STEP:
                raise ValueError(f"{self.kind}: step name {name!r} is reserved")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Pauses between attempts at a step a backend could not serve: `initial_s`, doubling up
    to `max_s`; a backend's own estimate is followed but never beyond `max_s`."""

    initial_s: float = 1.0
    max_s: float = 300.0

    def delay_s(self, attempts: int, asked_s: float | None = None) -> float:
        computed = min(self.max_s, self.initial_s * (2 ** max(0, min(attempts - 1, 30))))
        if asked_s is not None and asked_s > 0:
            return min(self.max_s, max(computed, asked_s))
        return computed


def step_name(name: str, run: int) -> str:
    """The step's row (and key) in a run: the first run uses the bare name."""
    return name if run <= 1 else f"{name}#{run}"


def idempotency_key(workflow_id: str, step: str) -> str:
    return f"{workflow_id}:{step}"


def workflow_id_of(kind: str, subject: str) -> str:
    """One workflow of a kind per subject (an order, a tracking number): starting it twice is
    finding the first."""
    return f"{kind}.{subject}"


@dataclass(slots=True)
class WorkflowEngine:
    store: WorkflowStore
    event_log: EventLog
    definitions: Mapping[str, WorkflowDefinition]
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    step_timeout_s: float = 120.0
    wake: AppendSignal = field(default_factory=AppendSignal)
    """Notified when a workflow is started or retried, so this process's runner begins now."""
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _announced: dict[str, int] = field(default_factory=dict)
    """The version of each workflow this process announced last: a workflow advanced again
    is announced again only when a crash may have lost its event (not known here)."""

    async def start(
        self,
        kind: str,
        subject: str,
        inputs: Mapping[str, Any],
        *,
        tenant_id: str | None,
        correlation_id: str,
    ) -> tuple[WorkflowRecord, bool]:
        """The workflow of `kind` for `subject`, made now unless it exists; True when made."""
        if kind not in self.definitions:
            raise UnknownWorkflowKind(kind)
        now = self.clock()
        record = WorkflowRecord(
            workflow_id=workflow_id_of(kind, subject),
            kind=kind,
            subject=subject,
            tenant_id=tenant_id,
            state=WorkflowState.RUNNING,
            inputs=dict(inputs),
            reason=None,
            attempts=0,
            next_attempt_at=None,
            version=1,
            run=1,
            correlation_id=correlation_id,
            created_at=now,
            updated_at=now,
        )
        created = await self.store.create(record)
        if not created:
            existing = await self.store.get(record.workflow_id)
            assert existing is not None
            return existing, False
        await self._announce(record, None)
        self.wake.notify()
        return record, True

    async def retry(self, workflow_id: str) -> WorkflowRecord:
        """Run a HELD workflow on from the step that held it, or start a FAILED one over (a new
        run: its steps get new keys, so the backends do them anew)."""
        workflow = await self.store.get(workflow_id)
        if workflow is None:
            raise KeyError(workflow_id)
        if workflow.state is WorkflowState.HELD:
            change = Transition(WorkflowState.RUNNING)
        elif workflow.state is WorkflowState.FAILED:
            change = Transition(WorkflowState.RUNNING, run=workflow.run + 1)
        else:
            raise NotRetryable(f"a {workflow.state.value} workflow cannot be retried")
        workflow = await self.store.transition(workflow, change)
        await self._announce(workflow, change)
        self.wake.notify()
        return workflow

    async def cancel(self, workflow_id: str, reason: str = CANCELLED_REASON) -> WorkflowRecord:
        """Cancel a WAITING or HELD workflow: it turns COMPENSATING (the next `advance` undoes
        its completed steps, newest first, and leaves it FAILED with `reason`). Raises
        `KeyError`, `NotCancellable`, or `StaleWorkflow` when a runner moved it meanwhile."""
        workflow = await self.store.get(workflow_id)
        if workflow is None:
            raise KeyError(workflow_id)
        if workflow.state not in CANCELLABLE:
            raise NotCancellable(
                f"a {workflow.state.value} workflow cannot be cancelled "
                "(only a WAITING or HELD one: a running step may be taking effect now)"
            )
        change = Transition(
            WorkflowState.COMPENSATING,
            reason=reason,
            step=step_name(CANCEL_STEP, workflow.run),
            step_state=StepState.FAILED,
            step_error=reason,
        )
        workflow = await self.store.transition(workflow, change)
        await self._announce(workflow, change)
        self.wake.notify()
        return workflow

    async def hurry(self, workflow_id: str) -> bool:
        """An event a waiting workflow waits for arrived: try its step now, not after its pause."""
        hurried = await self.store.hurry(workflow_id, self.clock())
        if hurried:
            self.wake.notify()
        return hurried

    async def advance(self, workflow_id: str) -> WorkflowRecord | None:
        """Run the workflow on as far as it goes now: to its end, a wait, a hold or a failure.

        Safe to call for any workflow at any time: a finished one is left alone, and one that
        another runner changed meanwhile stops this call (`StaleWorkflow` is swallowed)."""
        workflow = await self.store.get(workflow_id)
        if workflow is None or workflow.state not in UNFINISHED:
            return workflow
        definition = self.definitions.get(workflow.kind)
        if definition is None:  # a kind this version no longer runs: a person decides
            change = Transition(WorkflowState.HELD, reason=f"no workflow kind {workflow.kind}")
            workflow = await self.store.transition(workflow, change)
            await self._announce(workflow, change)
            return workflow
        if self._announced.get(workflow_id) != workflow.version:
            await self._announce(workflow, None)  # a crash may have come between change and event
        try:
            return await self._advance(definition, workflow)
        except StaleWorkflow:
            logger.warning("workflow %s was changed by another runner; leaving it", workflow_id)
            return await self.store.get(workflow_id)

    async def _advance(
        self, definition: WorkflowDefinition, workflow: WorkflowRecord
    ) -> WorkflowRecord:
        records = {record.step: record for record in await self.store.steps(workflow.workflow_id)}
        run = workflow.run
        results: dict[str, Mapping[str, Any]] = {}
        failed = [
            step
            for step in definition.steps
            if _state_of(records, step_name(step.name, run)) is StepState.FAILED
        ]
        if failed:
            return await self._compensate(definition, workflow, records, failed[0].name)
        if _state_of(records, step_name(CANCEL_STEP, run)) is StepState.FAILED:
            return await self._compensate(definition, workflow, records, CANCEL_STEP)
        completed: StepCompletion | None = None
        for step in definition.steps:
            name = step_name(step.name, run)
            record = records.get(name)
            if record is not None and record.state is StepState.COMPLETED:
                results[step.name] = record.result or {}
                continue
            outcome = await self._attempt(workflow, step.run, name, results, completed)
            workflow = outcome.workflow
            if outcome.failure is not None:
                records = {r.step: r for r in await self.store.steps(workflow.workflow_id)}
                return await self._compensate(definition, workflow, records, step.name)
            if outcome.result is None:
                return workflow
            results[step.name] = outcome.result
            completed = StepCompletion(name, outcome.result)
        change = Transition(
            WorkflowState.COMPLETED,
            completed=completed,
            tenant_id=None if completed is None else _tenant_in(completed.result),
        )
        workflow = await self.store.transition(workflow, change)
        await self._announce(workflow, change)
        return workflow

    async def _compensate(
        self,
        definition: WorkflowDefinition,
        workflow: WorkflowRecord,
        records: Mapping[str, StepRecord],
        failed: str,
    ) -> WorkflowRecord:
        """Undo the completed steps, newest first, then the workflow FAILED with the reason the
        `failed` step (or the cancellation's row) gives."""
        run = workflow.run
        reason = records[step_name(failed, run)].error or f"{failed} failed"
        results = {
            step.name: records[step_name(step.name, run)].result or {}
            for step in definition.steps
            if _state_of(records, step_name(step.name, run)) is StepState.COMPLETED
        }
        done = [
            step
            for step in definition.steps
            if step.compensate is not None and step.name in results
        ]
        completed: StepCompletion | None = None
        for step in reversed(done):
            name = COMPENSATION_PREFIX + step_name(step.name, run)
            if _state_of(records, name) is StepState.COMPLETED:
                continue
            assert step.compensate is not None
            outcome = await self._attempt(
                workflow, step.compensate, name, results, completed, compensating=True
            )
            workflow = outcome.workflow
            if outcome.result is None:
                return workflow
            completed = StepCompletion(name, outcome.result)
        change = Transition(WorkflowState.FAILED, reason=reason, completed=completed)
        workflow = await self.store.transition(workflow, change)
        await self._announce(workflow, change)
        return workflow

    async def _attempt(
        self,
        workflow: WorkflowRecord,
        function: StepFunction,
        name: str,
        results: Mapping[str, Mapping[str, Any]],
        completed: StepCompletion | None = None,
        *,
        compensating: bool = False,
    ) -> _Outcome:
        """One attempt at one step, its start recorded (with the completion of the step before
        it, when this call follows it at once) and announced before it runs. A step that
        completes is recorded with the next change (`_Outcome.result`), so going on from step
        to step is one write each; a step that does not is recorded and announced here."""
        running = WorkflowState.COMPENSATING if compensating else WorkflowState.RUNNING
        change = Transition(
            running,
            attempts=workflow.attempts,
            step=name,
            step_state=StepState.STARTED,
            completed=completed,
            tenant_id=None if completed is None else _tenant_in(completed.result),
        )
        workflow = await self.store.transition(workflow, change)
        await self._announce(workflow, change)
        given = StepInput(
            workflow_id=workflow.workflow_id,
            step=name,
            inputs=workflow.inputs,
            results=dict(results),
            idempotency_key=idempotency_key(workflow.workflow_id, name),
            correlation_id=workflow.correlation_id,
            tenant_id=workflow.tenant_id,
        )
        try:
            result = dict(await asyncio.wait_for(function(given), timeout=self.step_timeout_s))
        except RetryLater as error:
            change = self._waiting(workflow, name, error.reason, error.retry_after_s)
        except TimeoutError:
            change = self._waiting(workflow, name, f"{name} took too long", None)
        except StepFailed as error:
            if compensating:
                change = _held(name, f"could not undo {name}: {error.reason}")
            else:
                change = Transition(
                    WorkflowState.COMPENSATING,
                    reason=error.reason,
                    step=name,
                    step_state=StepState.FAILED,
                    step_error=error.reason,
                )
                workflow = await self.store.transition(workflow, change)
                await self._announce(workflow, change)
                return _Outcome(workflow, None, error.reason)
        except HoldForReview as error:
            change = _held(name, error.reason)
        except Exception:
            logger.exception(
                "step %s of workflow %s failed unexpectedly", name, workflow.workflow_id
            )
            change = self._waiting(workflow, name, f"{name} failed unexpectedly", None)
        else:
            return _Outcome(workflow, result, None)
        workflow = await self.store.transition(workflow, change)
        await self._announce(workflow, change)
        return _Outcome(workflow, None, None)

    def _waiting(
        self, workflow: WorkflowRecord, name: str, reason: str, asked_s: float | None
    ) -> Transition:
        attempts = workflow.attempts + 1
        delay = self.retry_policy.delay_s(attempts, asked_s)
        return Transition(
            WorkflowState.WAITING,
            reason=reason,
            attempts=attempts,
            next_attempt_at=self.clock() + timedelta(seconds=delay),
            step=name,
            step_state=StepState.WAITING,
            step_error=reason,
        )

    async def _announce(self, workflow: WorkflowRecord, change: Transition | None) -> None:
        """The `workflow.changed` event of the workflow's current version (a no-op when that
        version was announced before: the log keeps an event id once)."""
        now = self.clock()
        if len(self._announced) >= MAX_REMEMBERED:
            self._announced.clear()
        payload: dict[str, Any] = {
            "workflow_id": workflow.workflow_id,
            "kind": workflow.kind,
            "state": workflow.state.value,
            "version": workflow.version,
            "reason": workflow.reason,
            "step": None if change is None else change.step,
            "step_state": None
            if change is None or change.step_state is None
            else change.step_state.value,
            "completed_step": None
            if change is None or change.completed is None
            else change.completed.step,
        }
        await self.event_log.append(
            EventEnvelope(
                event_id=f"{workflow.workflow_id}@{workflow.version}",
                event_type=WORKFLOW_CHANGED,
                source=SourceSystem.GATEWAY,
                source_name="workflows",
                aggregate_type=AGGREGATE_TYPE,
                aggregate_id=workflow.workflow_id,
                occurred_at=workflow.updated_at,
                received_at=now,
                correlation_id=workflow.correlation_id,
                tenant_id=workflow.tenant_id,
                payload=payload,
            )
        )
        self._announced[workflow.workflow_id] = workflow.version


@dataclass(frozen=True, slots=True)
class _Outcome:
    workflow: WorkflowRecord
    result: Mapping[str, Any] | None
    """The step's result, not yet recorded (the caller records it with the next change);
    None when it did not complete (waiting, held or failed: recorded already)."""
    failure: str | None


def _held(name: str, reason: str) -> Transition:
    return Transition(
        WorkflowState.HELD, reason=reason, step=name, step_state=StepState.HELD, step_error=reason
    )


def _state_of(records: Mapping[str, StepRecord], name: str) -> StepState | None:
    record = records.get(name)
    return None if record is None else record.state


def _tenant_in(result: Mapping[str, Any]) -> str | None:
    tenant = result.get("tenant_id")
    return tenant if isinstance(tenant, str) and tenant else None


def definitions_by_kind(definitions: Iterable[WorkflowDefinition]) -> dict[str, WorkflowDefinition]:
    return {definition.kind: definition for definition in definitions}
