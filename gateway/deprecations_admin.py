"""`GET /admin/deprecations` (admin scope): what is deprecated, and who still uses it.

`deprecated` lists every deprecated coordinate of the API schema with its reason; `uses`
lists, most recently seen first, each client's use of one (its tenant, how often, first and
last seen), added up over every process of the deployment. `client`, `coordinate` and
`limit` (1 to 1,000, default 100) narrow the list. This process's uncounted uses are added
to the store first, so a use just made here is already listed.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from federation.composition.changes import deprecated_elements
from gateway.admin import admin_error, require_admin
from gateway.runtime import GatewayRuntime
from policies.deprecations import DeprecationUsage
from stores.deprecations import MAX_CLIENT_LENGTH, MAX_COORDINATE_LENGTH

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100


def deprecation_routes() -> list[Route]:
    return [Route("/admin/deprecations", deprecations, methods=["GET"])]


def _text_parameter(request: Request, name: str, longest: int) -> str | Response | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    if not value or len(value) > longest or not value.isprintable():
        return admin_error(
            400, "bad_request", f"{name} must be 1 to {longest} printable characters"
        )
    return value


async def deprecations(request: Request) -> Response:
    if (denied := require_admin(request)) is not None:
        return denied
    client = _text_parameter(request, "client", MAX_CLIENT_LENGTH)
    coordinate = _text_parameter(request, "coordinate", MAX_COORDINATE_LENGTH)
    for checked in (client, coordinate):
        if isinstance(checked, Response):
            return checked
    raw_limit = request.query_params.get("limit", str(DEFAULT_LIMIT))
    if not (raw_limit.isdigit() and len(raw_limit) <= 4) or not 1 <= int(raw_limit) <= MAX_LIMIT:
        return admin_error(
            400, "bad_request", f"limit must be a whole number from 1 to {MAX_LIMIT}"
        )
    runtime: GatewayRuntime = request.state.runtime
    usage: DeprecationUsage = request.state.deprecations
    await usage.flush()
    uses = await runtime.stores.deprecated_uses.list(
        client_id=client,  # type: ignore[arg-type]
        coordinate=coordinate,  # type: ignore[arg-type]
        limit=int(raw_limit),
    )
    return JSONResponse(
        {
            "deprecated": [
                {"coordinate": found, "reason": reason}
                for found, reason in sorted(deprecated_elements(runtime.router.schema))
            ],
            "uses": [
                {
                    "client": use.client_id,
                    "tenant": use.tenant_id,
                    "coordinate": use.coordinate,
                    "count": use.uses,
                    "first_seen": use.first_seen.isoformat(),
                    "last_seen": use.last_seen.isoformat(),
                }
                for use in uses
            ],
        }
    )
