"""The workflow engine on SQLite and the real PostgreSQL: steps in order with keys derived from
(workflow, step), a restart in the middle of a step, waits with backoff, compensation newest
first, holds and retries, and a `workflow.changed` event for every change."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from process_apis.workflows.engine import (
    HoldForReview,
    NotCancellable,
    NotRetryable,
    RetryLater,
    RetryPolicy,
    Step,
    StepFailed,
    StepInput,
    WorkflowDefinition,
    WorkflowEngine,
)
from process_apis.workflows.runner import WorkflowRunner
from stores import Stores, open_stores
from stores.workflows import StaleWorkflow, StepState, Transition, WorkflowState


class Crash(BaseException):
    """The process dies in the middle of a step: nothing after this line runs."""


@dataclass
class Backend:
    """A backend that deduplicates writes by idempotency key, as the real ones do."""

    effects: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    script: dict[str, list[Any]] = field(default_factory=dict)
    """Per step name, what each next call does: an exception to raise, or None to succeed."""

    def step(self, name: str) -> Step:
        async def run(given: StepInput) -> Mapping[str, Any]:
            return await self.call(given)

        async def undo(given: StepInput) -> Mapping[str, Any]:
            return await self.call(given)

        return Step(name, run, undo)

    async def call(self, given: StepInput) -> Mapping[str, Any]:
        self.calls.append((given.workflow_id, given.step))
        self.effects.setdefault(given.idempotency_key, given.step)
        plan = self.script.get(given.step.split("#")[0])
        if plan:
            outcome = plan.pop(0)
            if outcome is not None:
                raise outcome
        return {"done": given.step, "saw": sorted(given.results), "tenant_id": "C-1001"}

    def of(self, workflow_id: str) -> list[str]:
        """The steps called for one workflow (a shared database holds other tests' too)."""
        return [step for called, step in self.calls if called == workflow_id]


@pytest.fixture(params=["sqlite", "postgresql"])
async def stores(request, tmp_path) -> AsyncIterator[Stores]:
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'state.sqlite3'}"
    opened = await open_stores(url)
    yield opened
    await opened.close()


def engine_for(stores: Stores, backend: Backend, **options: Any) -> WorkflowEngine:
    definition = WorkflowDefinition(
        "demo", tuple(backend.step(name) for name in ("reserve", "pick", "book", "label"))
    )
    return WorkflowEngine(
        stores.workflows,
        stores.event_log,
        {"demo": definition},
        retry_policy=RetryPolicy(initial_s=0.01, max_s=0.05),
        **options,
    )


def subject() -> str:
    return f"SO-{uuid.uuid4().hex[:8]}"


async def events_of(stores: Stores, workflow_id: str) -> list[dict[str, Any]]:
    events = await stores.event_log.read(after=0, limit=10_000)
    return [
        dict(e.envelope.payload) | {"tenant": e.envelope.tenant_id}
        for e in events
        if e.envelope.aggregate_id == workflow_id and e.envelope.aggregate_type == "Workflow"
    ]


async def test_steps_run_in_order_with_earlier_results_and_keys_of_workflow_and_step(stores):
    backend = Backend()
    engine = engine_for(stores, backend)
    workflow, created = await engine.start(
        "demo", subject(), {"order": 1}, tenant_id=None, correlation_id="c-1"
    )
    assert created
    done = await engine.advance(workflow.workflow_id)
    assert done is not None and done.state is WorkflowState.COMPLETED
    assert backend.of(workflow.workflow_id) == ["reserve", "pick", "book", "label"]
    wid = workflow.workflow_id
    assert set(backend.effects) == {f"{wid}:reserve", f"{wid}:pick", f"{wid}:book", f"{wid}:label"}
    steps = await stores.workflows.steps(wid)
    assert [(s.step, s.state) for s in steps] == [
        (name, StepState.COMPLETED) for name in ("reserve", "pick", "book", "label")
    ]
    assert steps[-1].result == {
        "done": "label",
        "saw": ["book", "pick", "reserve"],
        "tenant_id": "C-1001",
    }
    assert done.tenant_id == "C-1001", "a step that finds the tenant out names the workflow's"
    events = await events_of(stores, wid)
    assert events[0]["state"] == "RUNNING" and events[0]["tenant"] is None
    assert events[-1]["state"] == "COMPLETED" and events[-1]["tenant"] == "C-1001"
    assert [e["version"] for e in events] == list(range(1, done.version + 1)), "one per change"


async def test_starting_a_workflow_twice_finds_the_first(stores):
    engine = engine_for(stores, Backend())
    order = subject()
    first, made = await engine.start("demo", order, {"a": 1}, tenant_id="C-1", correlation_id="x")
    again, made_again = await engine.start(
        "demo", order, {"a": 2}, tenant_id="C-1", correlation_id="y"
    )
    assert made and not made_again
    assert again.workflow_id == first.workflow_id and again.inputs == {"a": 1}


async def test_a_crash_mid_step_resumes_that_step_with_the_same_key_and_does_it_once(stores):
    backend = Backend(script={"book": [Crash()]})
    engine = engine_for(stores, backend)
    workflow, _ = await engine.start("demo", subject(), {}, tenant_id="C-1", correlation_id="c")
    with pytest.raises(Crash):
        await engine.advance(workflow.workflow_id)
    steps = {s.step: s for s in await stores.workflows.steps(workflow.workflow_id)}
    assert steps["book"].state is StepState.STARTED, "the interrupted step stays recorded begun"
    restarted = engine_for(stores, backend)  # a new process: nothing in memory survives
    runner = WorkflowRunner(restarted, stores.leases, "another-process")
    assert await runner.run_due() >= 1
    done = await stores.workflows.get(workflow.workflow_id)
    assert done is not None and done.state is WorkflowState.COMPLETED
    assert backend.of(workflow.workflow_id) == ["reserve", "pick", "book", "book", "label"]
    keys = [key for key in backend.effects if key.startswith(workflow.workflow_id)]
    assert len(keys) == 4, f"each step's effect once, by its key: {keys}"
    steps = {s.step: s for s in await stores.workflows.steps(workflow.workflow_id)}
    assert steps["book"].attempts == 2 and steps["reserve"].attempts == 1


async def test_a_step_the_backend_cannot_serve_waits_with_growing_pauses_then_goes_on(stores):
    unavailable = RetryLater("erp is in maintenance", retry_after_s=30)
    backend = Backend(script={"pick": [unavailable, RetryLater("still"), None]})
    engine = engine_for(stores, backend)
    workflow, _ = await engine.start("demo", subject(), {}, tenant_id="C-1", correlation_id="c")
    waiting = await engine.advance(workflow.workflow_id)
    assert waiting is not None and waiting.state is WorkflowState.WAITING
    assert waiting.reason == "erp is in maintenance" and waiting.attempts == 1
    assert waiting.next_attempt_at is not None
    pause = waiting.next_attempt_at - waiting.updated_at
    assert pause <= timedelta(seconds=0.06), "a backend's estimate never exceeds the policy's max"
    assert waiting.workflow_id not in await stores.workflows.due(waiting.updated_at, 100)
    later = datetime.now(UTC) + timedelta(seconds=1)
    assert waiting.workflow_id in await stores.workflows.due(later, 100)
    again = await engine.advance(workflow.workflow_id)
    assert again is not None and again.state is WorkflowState.WAITING and again.attempts == 2
    await asyncio.sleep(0.06)
    done = await engine.advance(workflow.workflow_id)
    assert done is not None and done.state is WorkflowState.COMPLETED
    assert backend.of(workflow.workflow_id).count("pick") == 3


def test_backoff_doubles_up_to_its_maximum_and_follows_a_backend_within_it():
    policy = RetryPolicy(initial_s=1.0, max_s=10.0)
    assert [policy.delay_s(n) for n in (1, 2, 3, 4, 5, 99)] == [1, 2, 4, 8, 10, 10]
    assert policy.delay_s(1, 5.0) == 5.0
    assert policy.delay_s(1, 30.0) == 10.0
    assert policy.delay_s(3, 0.5) == 4.0


async def test_a_business_failure_undoes_completed_steps_newest_first_then_fails(stores):
    backend = Backend(script={"book": [StepFailed("no carrier takes this shipment")]})
    engine = engine_for(stores, backend)
    workflow, _ = await engine.start("demo", subject(), {}, tenant_id="C-1", correlation_id="c")
    failed = await engine.advance(workflow.workflow_id)
    assert failed is not None and failed.state is WorkflowState.FAILED
    assert failed.reason == "no carrier takes this shipment"
    assert backend.of(workflow.workflow_id) == [
        "reserve",
        "pick",
        "book",
        "compensate:pick",
        "compensate:reserve",
    ]
    steps = [(s.step, s.state) for s in await stores.workflows.steps(workflow.workflow_id)]
    assert steps == [
        ("reserve", StepState.COMPLETED),
        ("pick", StepState.COMPLETED),
        ("book", StepState.FAILED),
        ("compensate:pick", StepState.COMPLETED),
        ("compensate:reserve", StepState.COMPLETED),
    ]
    events = await events_of(stores, workflow.workflow_id)
    assert "COMPENSATING" in [e["state"] for e in events] and events[-1]["state"] == "FAILED"


async def test_a_compensation_interrupted_by_a_crash_resumes_without_undoing_twice(stores):
    backend = Backend(script={"book": [StepFailed("refused")], "compensate:pick": [Crash()]})
    engine = engine_for(stores, backend)
    workflow, _ = await engine.start("demo", subject(), {}, tenant_id="C-1", correlation_id="c")
    with pytest.raises(Crash):
        await engine.advance(workflow.workflow_id)
    assert (await stores.workflows.get(workflow.workflow_id)).state is WorkflowState.COMPENSATING
    failed = await engine_for(stores, backend).advance(workflow.workflow_id)
    assert failed is not None and failed.state is WorkflowState.FAILED
    assert backend.of(workflow.workflow_id)[3:] == [
        "compensate:pick",
        "compensate:pick",
        "compensate:reserve",
    ]


async def test_a_failed_workflow_retried_starts_over_with_new_keys(stores):
    backend = Backend(script={"book": [StepFailed("refused")]})
    engine = engine_for(stores, backend)
    workflow, _ = await engine.start("demo", subject(), {}, tenant_id="C-1", correlation_id="c")
    await engine.advance(workflow.workflow_id)
    retried = await engine.retry(workflow.workflow_id)
    assert retried.state is WorkflowState.RUNNING and retried.run == 2
    done = await engine.advance(workflow.workflow_id)
    assert done is not None and done.state is WorkflowState.COMPLETED
    wid = workflow.workflow_id
    assert f"{wid}:reserve#2" in backend.effects and f"{wid}:reserve" in backend.effects
    with pytest.raises(NotRetryable):
        await engine.retry(wid)


async def test_a_cancelled_waiting_workflow_undoes_its_completed_steps_and_fails(stores):
    backend = Backend(script={"book": [RetryLater("the TMS is down")]})
    engine = engine_for(stores, backend)
    workflow, _ = await engine.start("demo", subject(), {}, tenant_id="C-1", correlation_id="c")
    waiting = await engine.advance(workflow.workflow_id)
    assert waiting is not None and waiting.state is WorkflowState.WAITING
    cancelled = await engine.cancel(workflow.workflow_id)
    assert cancelled.state is WorkflowState.COMPENSATING
    assert workflow.workflow_id in await stores.workflows.due(datetime.now(UTC), 1000)
    done = await engine.advance(workflow.workflow_id)
    assert done is not None and done.state is WorkflowState.FAILED
    assert done.reason == "cancelled by an operator"
    assert backend.of(workflow.workflow_id) == [
        "reserve",
        "pick",
        "book",
        "compensate:pick",
        "compensate:reserve",
    ], "the waiting step is not tried again; the completed ones are undone, newest first"
    events = await events_of(stores, workflow.workflow_id)
    assert events[-1]["state"] == "FAILED" and events[-1]["reason"] == "cancelled by an operator"
    with pytest.raises(NotCancellable):
        await engine.cancel(workflow.workflow_id)
    retried = await engine.retry(workflow.workflow_id)
    assert retried.run == 2, "a cancelled workflow can be started over"
    again = await engine.advance(workflow.workflow_id)
    assert again is not None and again.state is WorkflowState.COMPLETED


async def test_a_running_or_finished_workflow_is_not_cancelled_and_a_stale_cancel_fails(stores):
    backend = Backend(script={"book": [HoldForReview("check the rate")]})
    engine = engine_for(stores, backend)
    workflow, _ = await engine.start("demo", subject(), {}, tenant_id="C-1", correlation_id="c")
    with pytest.raises(NotCancellable, match="RUNNING"):
        await engine.cancel(workflow.workflow_id)
    held = await engine.advance(workflow.workflow_id)
    assert held is not None and held.state is WorkflowState.HELD
    other = engine_for(stores, backend)
    stale_read = await stores.workflows.get(workflow.workflow_id)
    await engine.cancel(workflow.workflow_id)
    with pytest.raises(StaleWorkflow):  # a runner that read it before the cancel
        await other.store.transition(stale_read, Transition(WorkflowState.RUNNING))
    with pytest.raises(KeyError):
        await engine.cancel("demo.nothing-here")


async def test_a_hold_stops_for_a_person_and_a_retry_runs_the_held_step_again(stores):
    backend = Backend(script={"book": [HoldForReview("freight differs from the booked rate")]})
    engine = engine_for(stores, backend)
    workflow, _ = await engine.start("demo", subject(), {}, tenant_id="C-1", correlation_id="c")
    held = await engine.advance(workflow.workflow_id)
    assert held is not None and held.state is WorkflowState.HELD
    assert held.reason == "freight differs from the booked rate"
    assert held.workflow_id not in await stores.workflows.due(datetime.now(UTC), 100)
    listed = await stores.workflows.page(state=WorkflowState.HELD, kind="demo", limit=200)
    assert workflow.workflow_id in [w.workflow_id for w in listed]
    await engine.retry(workflow.workflow_id)
    done = await engine.advance(workflow.workflow_id)
    assert done is not None and done.state is WorkflowState.COMPLETED
    assert backend.of(workflow.workflow_id) == ["reserve", "pick", "book", "book", "label"]
    assert "compensate:pick" not in backend.of(workflow.workflow_id)


async def test_an_unexpected_error_in_a_step_waits_rather_than_losing_the_workflow(stores):
    backend = Backend(script={"pick": [ValueError("a bug")]})
    engine = engine_for(stores, backend)
    workflow, _ = await engine.start("demo", subject(), {}, tenant_id="C-1", correlation_id="c")
    waiting = await engine.advance(workflow.workflow_id)
    assert waiting is not None and waiting.state is WorkflowState.WAITING
    assert waiting.reason == "pick failed unexpectedly", "no internals in the stored reason"


async def test_a_stale_runner_cannot_write_over_a_newer_change(stores):
    from stores.workflows import StaleWorkflow, Transition

    engine = engine_for(stores, Backend())
    workflow, _ = await engine.start("demo", subject(), {}, tenant_id="C-1", correlation_id="c")
    await stores.workflows.transition(workflow, Transition(WorkflowState.RUNNING))
    with pytest.raises(StaleWorkflow):
        await stores.workflows.transition(workflow, Transition(WorkflowState.COMPLETED))


async def test_one_runner_per_deployment_advances_new_workflows_as_they_start(stores):
    backend = Backend()
    engine = engine_for(stores, backend)
    first = WorkflowRunner(engine, stores.leases, "process-a", lease_ttl_s=5, poll_s=0.05)
    second = WorkflowRunner(
        engine_for(stores, backend), stores.leases, "process-b", lease_ttl_s=5, poll_s=0.05
    )
    stop = asyncio.Event()
    tasks = [asyncio.create_task(runner.run(stop)) for runner in (first, second)]
    try:
        workflow, _ = await engine.start("demo", subject(), {}, tenant_id="C", correlation_id="c")
        for _ in range(200):
            current = await stores.workflows.get(workflow.workflow_id)
            if current is not None and current.state is WorkflowState.COMPLETED:
                break
            await asyncio.sleep(0.02)
        else:
            pytest.fail(f"the workflow did not complete: {current}")
        assert await stores.leases.holder("workflows:runner") in ("process-a", "process-b")
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert backend.of(workflow.workflow_id) == ["reserve", "pick", "book", "label"]


async def test_a_step_slower_than_the_runners_lease_is_not_taken_over_by_another_runner(stores):
    calls: list[str] = []

    async def slow(given: StepInput) -> Mapping[str, Any]:
        calls.append(given.step)
        await asyncio.sleep(1.2)  # twice the lease's life
        return {}

    def engine() -> WorkflowEngine:
        definition = WorkflowDefinition("slow", (Step("wait_for_backend", slow),))
        return WorkflowEngine(stores.workflows, stores.event_log, {"slow": definition})

    runners = [
        WorkflowRunner(engine(), stores.leases, f"process-{name}", lease_ttl_s=0.6, poll_s=0.05)
        for name in ("a", "b")
    ]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(runner.run(stop)) for runner in runners]
    try:
        await asyncio.sleep(0.3)  # one of them holds the lease
        workflow, _ = await runners[0].engine.start(
            "slow", subject(), {}, tenant_id="C", correlation_id="c"
        )
        runners[0].engine.wake.notify()
        runners[1].engine.wake.notify()
        for _ in range(300):
            current = await stores.workflows.get(workflow.workflow_id)
            if current is not None and current.state is WorkflowState.COMPLETED:
                break
            await asyncio.sleep(0.02)
        else:
            pytest.fail(f"the workflow did not complete: {current}")
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert calls == ["wait_for_backend"], "the holder renewed its lease while the step ran"


OUTCOMES = st.sampled_from(["ok", "retry", "fail", "crash"])


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plan=st.lists(st.lists(OUTCOMES, min_size=0, max_size=3), min_size=4, max_size=4))
def test_any_mix_of_outcomes_ends_completed_or_undone_with_each_effect_once(tmp_path, plan):
    """Whatever each step does (succeed, wait, fail, crash, several times over), the workflow
    ends COMPLETED with every step done, or FAILED with exactly the completed steps undone,
    newest first; no key is used for two different effects."""
    names = ("reserve", "pick", "book", "label")
    make = {
        "ok": lambda: None,
        "retry": lambda: RetryLater("busy"),
        "fail": lambda: StepFailed("no"),
    }
    make["crash"] = lambda: Crash()
    script = {
        name: [make[o]() for o in outcomes] for name, outcomes in zip(names, plan, strict=True)
    }

    async def scenario() -> None:
        stores = await open_stores(f"sqlite+aiosqlite:///{tmp_path / uuid.uuid4().hex}.sqlite3")
        try:
            backend = Backend(script=script)
            workflow, _ = await engine_for(stores, backend).start(
                "demo", subject(), {}, tenant_id="C", correlation_id="c"
            )
            for _ in range(60):
                try:
                    current = await engine_for(stores, backend).advance(workflow.workflow_id)
                except Crash:
                    continue
                assert current is not None
                if current.state in (WorkflowState.COMPLETED, WorkflowState.FAILED):
                    break
            assert current.state in (WorkflowState.COMPLETED, WorkflowState.FAILED)
            steps = {s.step: s for s in await stores.workflows.steps(workflow.workflow_id)}
            completed = [n for n in names if n in steps and steps[n].state is StepState.COMPLETED]
            if current.state is WorkflowState.COMPLETED:
                assert completed == list(names)
            else:
                undone = [s.step for s in sorted(steps.values(), key=lambda s: s.sequence)]
                undone = [
                    n.removeprefix("compensate:") for n in undone if n.startswith("compensate:")
                ]
                assert undone == list(reversed(completed))
                assert all(steps[f"compensate:{n}"].state is StepState.COMPLETED for n in undone)
            effects = [k for k in backend.effects if k.startswith(workflow.workflow_id)]
            assert len(effects) == len(set(backend.of(workflow.workflow_id))), (
                "one effect per distinct step key"
            )
        finally:
            await stores.close()

    asyncio.run(scenario())


class FailingLog:
    """An event log that is out of reach for one append (the `fail_at`-th), then back."""

    def __init__(self, inner: Any, fail_at: int) -> None:
        self.inner = inner
        self.appends = 0
        self.fail_at = fail_at
        self.duplicates = 0

    async def append(self, envelope: Any) -> Any:
        self.appends += 1
        if self.appends == self.fail_at:
            from stores.event_log import EventLogUnavailable

            raise EventLogUnavailable("the log is out of reach")
        result = await self.inner.append(envelope)
        self.duplicates += result.duplicate
        return result

    async def read(self, *, after: int = 0, limit: int = 100) -> Any:
        return await self.inner.read(after=after, limit=limit)


async def test_a_change_whose_event_was_lost_is_announced_when_the_workflow_resumes(stores):
    backend = Backend()
    definition = engine_for(stores, backend).definitions
    flaky = FailingLog(stores.event_log, fail_at=3)
    engine = WorkflowEngine(stores.workflows, flaky, definition)
    workflow, _ = await engine.start("demo", subject(), {}, tenant_id="C-1", correlation_id="c")
    from stores.event_log import EventLogUnavailable

    with pytest.raises(EventLogUnavailable):
        await engine.advance(workflow.workflow_id)
    done = await engine_for(stores, backend).advance(workflow.workflow_id)
    assert done is not None and done.state is WorkflowState.COMPLETED
    versions = [e["version"] for e in await events_of(stores, workflow.workflow_id)]
    assert sorted(versions) == list(range(1, done.version + 1)), "no change without its event"
    assert len(versions) == len(set(versions)), "and none twice"


async def test_a_waiting_workflow_tried_again_announces_only_its_new_changes(stores):
    backend = Backend(script={"pick": [RetryLater("busy"), RetryLater("busy"), None]})
    counting = FailingLog(stores.event_log, fail_at=0)
    engine = WorkflowEngine(
        stores.workflows,
        counting,
        engine_for(stores, backend).definitions,
        retry_policy=RetryPolicy(initial_s=0.01, max_s=0.05),
    )
    workflow, _ = await engine.start("demo", subject(), {}, tenant_id="C-1", correlation_id="c")
    for _ in range(3):
        await engine.advance(workflow.workflow_id)
        await asyncio.sleep(0.06)
    events = await events_of(stores, workflow.workflow_id)
    versions = [e["version"] for e in events]
    assert versions == list(range(1, len(versions) + 1))
    assert events[-1]["state"] == "COMPLETED"
    assert counting.duplicates == 0, "what this process announced is not sent again"


async def test_a_workflow_of_a_kind_no_longer_defined_is_held_not_retried_for_ever(stores):
    old = engine_for(stores, Backend())
    workflow, _ = await old.start("demo", subject(), {}, tenant_id="C-1", correlation_id="c")
    newer = WorkflowEngine(stores.workflows, stores.event_log, {})
    held = await newer.advance(workflow.workflow_id)
    assert held is not None and held.state is WorkflowState.HELD
    assert held.reason == "no workflow kind demo"


async def test_a_runner_whose_workflows_all_fail_pauses_instead_of_spinning(stores):
    attempts = []

    class Broken(WorkflowEngine):
        async def advance(self, workflow_id: str) -> Any:
            attempts.append(workflow_id)
            raise RuntimeError("the database went away")

    engine = Broken(stores.workflows, stores.event_log, engine_for(stores, Backend()).definitions)
    await engine.start("demo", subject(), {}, tenant_id="C", correlation_id="c")
    runner = WorkflowRunner(engine, stores.leases, "p", lease_ttl_s=5, failure_backoff_s=0.2)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    await asyncio.sleep(0.5)
    stop.set()
    await task
    batches = len(attempts) / runner.concurrency
    assert len(attempts) >= 1 and batches <= 4, f"{len(attempts)} attempts in half a second"


async def test_on_jetstream_a_crash_mid_step_resumes_and_every_change_is_announced_once(
    tmp_path, nats_url
):
    from dataclasses import replace

    from stores.event_log import SignallingEventLog
    from stores.jetstream import JetStreamEventLog

    opened = await open_stores(f"sqlite+aiosqlite:///{tmp_path / 'state.sqlite3'}")
    log = await JetStreamEventLog.connect(
        nats_url,
        stream=f"WF_{uuid.uuid4().hex[:10].upper()}",
        subject_prefix=f"wf.{uuid.uuid4().hex[:10]}",
    )
    await opened.event_log.close()
    stores = replace(opened, event_log=SignallingEventLog(log, opened.appended))
    try:
        backend = Backend(script={"book": [Crash()]})
        workflow, _ = await engine_for(stores, backend).start(
            "demo", subject(), {}, tenant_id="C-1", correlation_id="c"
        )
        with pytest.raises(Crash):
            await engine_for(stores, backend).advance(workflow.workflow_id)
        done = await engine_for(stores, backend).advance(workflow.workflow_id)
        assert done is not None and done.state is WorkflowState.COMPLETED
        versions = [e["version"] for e in await events_of(stores, workflow.workflow_id)]
        assert versions == list(range(1, done.version + 1))
        assert backend.of(workflow.workflow_id) == ["reserve", "pick", "book", "book", "label"]
    finally:
        await log._js.delete_stream(log._stream)
        await stores.close()
