"""Stock reconciliation for operators: `GET /admin/reconciliation/runs` lists recent runs,
`POST /admin/reconciliation/runs` runs one now, `GET /admin/reconciliation/variances` lists a
run's variances (the latest run's unless `run` names one), paged by `after`. Admin scope only;
every input checked before it reaches the store."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.admin import admin_error, require_admin
from process_apis.reconciliation import StockReconciliation
from stores.reconciliation import ReconciliationRun, StockVariance
from system_apis.errors import BackendError

MIN_GAP_S = 10.0
"""A run reads both backends whole: an operator may start one this long after the last."""
MAX_RUNS = 100
MAX_VARIANCES = 500
RUN_ID = re.compile(r"rec-[0-9T]{15}-[0-9a-f]{8}")
KEY_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def reconciliation_routes() -> list[Route]:
    return [
        Route("/admin/reconciliation/runs", list_runs, methods=["GET"]),
        Route("/admin/reconciliation/runs", run_now, methods=["POST"]),
        Route("/admin/reconciliation/variances", list_variances, methods=["GET"]),
    ]


def _reconciliation(request: Request) -> StockReconciliation:
    return request.state.services.reconciliation


def _limit(request: Request, default: int, maximum: int) -> int | Response:
    text = request.query_params.get("limit", str(default))
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= maximum):
        return admin_error(400, "bad_request", f"limit must be a whole number 1 to {maximum}")
    return int(text)


def _unknown(request: Request, known: set[str]) -> Response | None:
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        return admin_error(400, "bad_request", f"unknown parameter {unknown[0][:40]!r}")
    return None


async def list_runs(request: Request) -> Response:
    if (denied := require_admin(request)) is not None:
        return denied
    if (refused := _unknown(request, {"limit"})) is not None:
        return refused
    limit = _limit(request, 20, MAX_RUNS)
    if isinstance(limit, Response):
        return limit
    runs = await _reconciliation(request).store.runs(limit)
    return JSONResponse({"runs": [run_summary(run) for run in runs]})


async def run_now(request: Request) -> Response:
    if (denied := require_admin(request)) is not None:
        return denied
    reconciliation = _reconciliation(request)
    latest = await reconciliation.store.latest()
    if latest is not None:
        since_s = (datetime.now(UTC) - latest.started_at).total_seconds()
        if since_s < MIN_GAP_S:
            wait_s = max(1, math.ceil(MIN_GAP_S - since_s))
            response = admin_error(
                429, "too_many_requests", f"a reconciliation ran just now; try again in {wait_s} s"
            )
            response.headers["Retry-After"] = str(wait_s)
            return response
    try:
        run = await reconciliation.run()
    except BackendError as error:
        return admin_error(503, "unavailable", error.public_message)
    return JSONResponse({"run": run_summary(run)}, 201)


async def list_variances(request: Request) -> Response:
    if (denied := require_admin(request)) is not None:
        return denied
    if (refused := _unknown(request, {"run", "after", "limit"})) is not None:
        return refused
    limit = _limit(request, 100, MAX_VARIANCES)
    if isinstance(limit, Response):
        return limit
    after_text = request.query_params.get("after")
    after: tuple[str, str] | None = None
    if after_text is not None:
        parts = after_text.split(":")
        if len(parts) != 2 or not all(KEY_PART.fullmatch(part) for part in parts):
            return admin_error(400, "bad_request", "after must be warehouse:sku from a listing")
        after = (parts[0], parts[1])
    store = _reconciliation(request).store
    run_id = request.query_params.get("run", "latest")
    if run_id == "latest":
        run = await store.latest()
    elif RUN_ID.fullmatch(run_id):
        run = await store.run(run_id)
    else:
        return admin_error(400, "bad_request", "run must be 'latest' or a run id from a listing")
    if run is None:
        return admin_error(404, "not_found", "no such reconciliation run")
    variances = await store.variances(run.run_id, after=after, limit=limit + 1)
    page = variances[:limit]
    return JSONResponse(
        {
            "run": run_summary(run),
            "variances": [variance_summary(v) for v in page],
            "next": f"{page[-1].warehouse_id}:{page[-1].sku}" if len(variances) > limit else None,
        }
    )


def run_summary(run: ReconciliationRun) -> dict[str, Any]:
    return {
        "id": run.run_id,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat(),
        "compared": run.compared,
        "variances": run.variances,
    }


def variance_summary(variance: StockVariance) -> dict[str, Any]:
    return {
        "warehouse_id": variance.warehouse_id,
        "sku": variance.sku,
        "unit": variance.unit,
        "erp_quantity": str(variance.erp_quantity),
        "wms_quantity": str(variance.wms_quantity),
        "difference": str(variance.difference),
    }
