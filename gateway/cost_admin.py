"""`GET /admin/costs`: what operations cost per client, estimated against actual, to tune
the plans' budgets (`policies.cost_ledger`). Admin scope; `client` filters to one client's
operations, `limit` (1 to 1000, default 100) bounds the listing, most recently run first."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.admin import admin_error, require_admin
from policies.cost_ledger import CostLedger

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
CLIENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def cost_routes(ledger: CostLedger) -> list[Route]:
    async def list_costs(request: Request) -> Response:
        if (denied := require_admin(request)) is not None:
            return denied
        query = request.query_params
        unknown = sorted(set(query) - {"client", "limit"})
        if unknown:
            return admin_error(400, "bad_request", f"unknown parameter {unknown[0][:40]!r}")
        client = query.get("client")
        if client is not None and not CLIENT_NAME.fullmatch(client):
            return admin_error(400, "bad_request", "client must be a client's name")
        limit_text = query.get("limit", str(DEFAULT_LIMIT))
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_LIMIT:
            return admin_error(400, "bad_request", f"limit must be 1 to {MAX_LIMIT}")
        entries = ledger.entries(client, int(limit_text))
        return JSONResponse({"operations": entries, "tracked": len(ledger)})

    return [Route("/admin/costs", list_costs, methods=["GET"])]
