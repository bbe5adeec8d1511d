"""The operators' view of workflows: `/admin/workflows` lists them (by state and kind, paged),
`/admin/workflows/{id}` shows one with its steps, `POST /admin/workflows` starts one,
`POST /admin/workflows/{id}/retry` runs a held or failed one on and
`POST /admin/workflows/{id}/cancel` cancels a waiting or held one (the runner then undoes its
completed steps and it ends FAILED). Every route needs the admin
scope; every input is checked before it reaches the store."""

from __future__ import annotations

import re
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.admin import admin_error, require_admin
from process_apis.workflows.engine import NotCancellable, NotRetryable
from process_apis.workflows.service import Workflows, WorkflowView
from process_apis.workflows.triggers import SUBJECT
from stores.event_log import EventLogUnavailable
from stores.workflows import (
    MAX_WORKFLOW_ID,
    StaleWorkflow,
    StepRecord,
    WorkflowRecord,
    WorkflowState,
)

MAX_PAGE = 200
DEFAULT_PAGE = 50
MAX_BODY_BYTES = 4096
WORKFLOW_ID = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_WORKFLOW_ID - 1}}}")


def workflow_routes() -> list[Route]:
    return [
        Route("/admin/workflows", list_workflows, methods=["GET"]),
        Route("/admin/workflows", start_workflow, methods=["POST"]),
        Route("/admin/workflows/{workflow_id}", show_workflow, methods=["GET"]),
        Route("/admin/workflows/{workflow_id}/retry", retry_workflow, methods=["POST"]),
        Route("/admin/workflows/{workflow_id}/cancel", cancel_workflow, methods=["POST"]),
    ]


def _workflows(request: Request) -> Workflows:
    return request.state.services.workflows


async def list_workflows(request: Request) -> Response:
    if (denied := require_admin(request)) is not None:
        return denied
    workflows = _workflows(request)
    query = request.query_params
    unknown = sorted(set(query) - {"state", "kind", "after", "limit"})
    if unknown:
        return admin_error(400, "bad_request", f"unknown parameter {unknown[0][:40]!r}")
    state = query.get("state")
    if state is not None and state not in WorkflowState.__members__:
        states = ", ".join(WorkflowState.__members__)
        return admin_error(400, "bad_request", f"state must be one of {states}")
    kind = query.get("kind")
    if kind is not None and kind not in workflows.kinds:
        return admin_error(400, "bad_request", f"kind must be one of {', '.join(workflows.kinds)}")
    after = query.get("after")
    if after is not None and not WORKFLOW_ID.fullmatch(after):
        return admin_error(400, "bad_request", "after must be a workflow id from a listing")
    limit_text = query.get("limit", str(DEFAULT_PAGE))
    if not (limit_text.isascii() and limit_text.isdigit() and 1 <= int(limit_text) <= MAX_PAGE):
        return admin_error(400, "bad_request", f"limit must be a whole number 1 to {MAX_PAGE}")
    limit = int(limit_text)
    records = await workflows.page(
        state=WorkflowState(state) if state else None, kind=kind, after=after, limit=limit + 1
    )
    page = records[:limit]
    more = len(records) > limit
    return JSONResponse(
        {
            "workflows": [workflow_summary(record) for record in page],
            "next": page[-1].workflow_id if more and page else None,
        }
    )


def _admitted_workflow_id(request: Request) -> str | Response:
    """The path's workflow id for an admin, or the refusal: not admin (401/403), not an id (400)."""
    if (denied := require_admin(request)) is not None:
        return denied
    workflow_id = request.path_params["workflow_id"]
    if not WORKFLOW_ID.fullmatch(workflow_id):
        return admin_error(400, "bad_request", "not a workflow id")
    return workflow_id


async def show_workflow(request: Request) -> Response:
    workflow_id = _admitted_workflow_id(request)
    if isinstance(workflow_id, Response):
        return workflow_id
    view = await _workflows(request).view(workflow_id)
    if view is None:
        return admin_error(404, "not_found", "no such workflow")
    return JSONResponse(workflow_detail(view))


async def retry_workflow(request: Request) -> Response:
    workflow_id = _admitted_workflow_id(request)
    if isinstance(workflow_id, Response):
        return workflow_id
    try:
        record = await _workflows(request).engine.retry(workflow_id)
    except KeyError:
        return admin_error(404, "not_found", "no such workflow")
    except NotRetryable as error:
        return admin_error(409, "conflict", str(error))
    return JSONResponse({"workflow": workflow_summary(record)})


async def cancel_workflow(request: Request) -> Response:
    workflow_id = _admitted_workflow_id(request)
    if isinstance(workflow_id, Response):
        return workflow_id
    try:
        record = await _workflows(request).engine.cancel(workflow_id)
    except KeyError:
        return admin_error(404, "not_found", "no such workflow")
    except NotCancellable as error:
        return admin_error(409, "conflict", str(error))
    except StaleWorkflow:
        return admin_error(409, "conflict", "the workflow changed meanwhile; look at it again")
    return JSONResponse({"workflow": workflow_summary(record)})


async def start_workflow(request: Request) -> Response:
    if (denied := require_admin(request)) is not None:
        return denied
    workflows = _workflows(request)
    body = await _body(request)
    if isinstance(body, Response):
        return body
    kind, subject = body.get("kind"), body.get("subject")
    if kind not in workflows.kinds:
        return admin_error(400, "bad_request", f"kind must be one of {', '.join(workflows.kinds)}")
    if not isinstance(subject, str) or not SUBJECT.fullmatch(subject):
        return admin_error(
            400,
            "bad_request",
            "subject must be an order id or tracking number (1 to 48 "
            "letters, digits, '.', '_' or '-')",
        )
    try:
        record, created = await workflows.start_by_hand(
            kind, subject, correlation_id=request.state.correlation_id
        )
    except EventLogUnavailable:
        return admin_error(503, "unavailable", "the event log is out of reach; try again")
    return JSONResponse({"workflow": workflow_summary(record)}, 201 if created else 200)


async def _body(request: Request) -> dict[str, Any] | Response:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        return admin_error(413, "too_large", f"the body must be at most {MAX_BODY_BYTES} bytes")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            return admin_error(413, "too_large", f"the body must be at most {MAX_BODY_BYTES} bytes")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return admin_error(400, "bad_request", "the body must be a JSON object")
    if not isinstance(body, dict):
        return admin_error(400, "bad_request", "the body must be a JSON object")
    return body


def workflow_summary(record: WorkflowRecord) -> dict[str, Any]:
    return {
        "id": record.workflow_id,
        "kind": record.kind,
        "subject": record.subject,
        "tenant_id": record.tenant_id,
        "state": record.state.value,
        "reason": record.reason,
        "attempts": record.attempts,
        "next_attempt_at": _time(record.next_attempt_at),
        "run": record.run,
        "version": record.version,
        "created_at": _time(record.created_at),
        "updated_at": _time(record.updated_at),
    }


def workflow_detail(view: WorkflowView) -> dict[str, Any]:
    return {"workflow": workflow_summary(view.workflow), "steps": [_step(s) for s in view.steps]}


def _step(step: StepRecord) -> dict[str, Any]:
    return {
        "step": step.step,
        "state": step.state.value,
        "attempts": step.attempts,
        "error": step.error,
        "result": step.result,
        "started_at": _time(step.started_at),
        "finished_at": _time(step.finished_at),
    }


def _time(value: Any) -> str | None:
    return None if value is None else value.isoformat()
