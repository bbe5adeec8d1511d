"""`admin workflows list | show | retry | cancel`: the durable workflows, through the engine
the gateways run them with (the `/admin/workflows` routes' equivalents, plus cancel).

A cancellation undoes the workflow's completed steps here and now, through the configured
backend clients (a backend that cannot serve the undo now leaves the workflow waiting, and
the deployment's workflow runner finishes it)."""

from __future__ import annotations

import argparse

from gateway.operator.console import CommandError, console, malformed, print_json, table
from gateway.operator.context import Operator
from gateway.workflow_admin import WORKFLOW_ID, workflow_detail, workflow_summary
from process_apis.workflows.engine import NotCancellable, NotRetryable
from stores.workflows import StaleWorkflow, WorkflowRecord, WorkflowState

MAX_LIST = 1000


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("workflows", help="durable cross-system workflows")
    group = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = group.add_parser("list", parents=[common], help="list workflows by id")
    listing.add_argument("--state", help=", ".join(WorkflowState.__members__))
    listing.add_argument("--kind", help="order-to-ship, ship-to-invoice or return-to-restock")
    listing.add_argument("--after", help="the last id of the previous page")
    listing.add_argument("--limit", type=int, default=50, help=f"at most this many (≤{MAX_LIST})")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(run=list_workflows)
    show = group.add_parser("show", parents=[common], help="one workflow with its steps")
    show.add_argument("workflow_id", metavar="ID")
    show.add_argument("--json", action="store_true", help="print JSON instead of tables")
    show.set_defaults(run=show_workflow)
    retry = group.add_parser(
        "retry", parents=[common], help="run a HELD workflow on, or start a FAILED one over"
    )
    retry.add_argument("workflow_id", metavar="ID")
    retry.set_defaults(run=retry_workflow)
    cancel = group.add_parser(
        "cancel",
        parents=[common],
        help="cancel a WAITING or HELD workflow: undo its completed steps, then FAILED",
    )
    cancel.add_argument("workflow_id", metavar="ID")
    cancel.add_argument("--reason", default=None, help="why (kept as the workflow's reason)")
    cancel.set_defaults(run=cancel_workflow)


def _workflow_id(text: str) -> str:
    if not WORKFLOW_ID.fullmatch(text):
        raise malformed(f"{text[:80]!r} is not a workflow id (kind.subject, as listed)")
    return text


def _summary_table(title: str, records: list[WorkflowRecord]):  # type: ignore[no-untyped-def]
    return table(
        title,
        ("id", "kind", "state", "reason", "attempts", "run", "updated"),
        (
            (
                r.workflow_id,
                r.kind,
                r.state.value,
                (r.reason or "")[:80],
                r.attempts,
                r.run,
                r.updated_at.isoformat(timespec="seconds"),
            )
            for r in records
        ),
    )


async def list_workflows(operator: Operator, arguments: argparse.Namespace) -> int:
    workflows = operator.services.workflows
    state = arguments.state
    if state is not None and state.upper() not in WorkflowState.__members__:
        raise malformed(f"--state: one of {', '.join(WorkflowState.__members__)}")
    if arguments.kind is not None and arguments.kind not in workflows.kinds:
        raise malformed(f"--kind: one of {', '.join(workflows.kinds)}")
    after = None if arguments.after is None else _workflow_id(arguments.after)
    if not 1 <= arguments.limit <= MAX_LIST:
        raise malformed(f"--limit: a whole number from 1 to {MAX_LIST}")
    records = list(
        await workflows.page(
            state=WorkflowState(state.upper()) if state else None,
            kind=arguments.kind,
            after=after,
            limit=arguments.limit,
        )
    )
    if arguments.json:
        print_json({"workflows": [workflow_summary(record) for record in records]})
    elif records:
        console().print(_summary_table("Workflows", records))
    if not records:
        raise CommandError("no workflow matches")
    return 0


async def show_workflow(operator: Operator, arguments: argparse.Namespace) -> int:
    workflow_id = _workflow_id(arguments.workflow_id)
    view = await operator.services.workflows.view(workflow_id)
    if view is None:
        raise CommandError(f"no workflow {workflow_id}")
    if arguments.json:
        print_json(workflow_detail(view))
        return 0
    out = console()
    out.print(_summary_table(f"Workflow {workflow_id}", [view.workflow]))
    out.print(
        table(
            "Steps",
            ("step", "state", "attempts", "error", "started", "finished"),
            (
                (
                    s.step,
                    s.state.value,
                    s.attempts,
                    s.error or "",
                    s.started_at.isoformat(timespec="seconds"),
                    s.finished_at.isoformat(timespec="seconds") if s.finished_at else "",
                )
                for s in view.steps
            ),
        )
    )
    return 0


async def retry_workflow(operator: Operator, arguments: argparse.Namespace) -> int:
    workflow_id = _workflow_id(arguments.workflow_id)
    try:
        record = await operator.services.workflows.engine.retry(workflow_id)
    except KeyError as error:
        raise CommandError(f"no workflow {workflow_id}") from error
    except NotRetryable as error:
        raise CommandError(f"{workflow_id}: {error}") from error
    except StaleWorkflow as error:
        raise CommandError(f"{workflow_id} changed meanwhile; look at it again") from error
    console().print(
        f"{workflow_id} is {record.state.value} (run {record.run}); the deployment's workflow "
        "runner takes it on"
    )
    return 0


async def cancel_workflow(operator: Operator, arguments: argparse.Namespace) -> int:
    workflow_id = _workflow_id(arguments.workflow_id)
    engine = operator.services.workflows.engine
    reason = arguments.reason
    if reason is not None and not 0 < len(reason) <= 500:
        raise malformed("--reason: 1 to 500 characters")
    try:
        if reason is None:
            await engine.cancel(workflow_id)
        else:
            await engine.cancel(workflow_id, f"cancelled by an operator: {reason}")
    except KeyError as error:
        raise CommandError(f"no workflow {workflow_id}") from error
    except NotCancellable as error:
        raise CommandError(f"{workflow_id}: {error}") from error
    except StaleWorkflow as error:
        raise CommandError(f"{workflow_id} changed meanwhile; look at it again") from error
    with console().status(f"undoing the completed steps of {workflow_id}"):
        record = await engine.advance(workflow_id)
    assert record is not None
    if record.state is WorkflowState.FAILED:
        console().print(f"{workflow_id} is cancelled: FAILED ({record.reason})")
        return 0
    console().print(
        f"{workflow_id} is cancelled and {record.state.value} ({record.reason}): the "
        "deployment's workflow runner finishes undoing it"
    )
    return 0
