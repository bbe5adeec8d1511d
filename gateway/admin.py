"""What every `/admin/*` route shares: the admin scope, and JSON errors in one shape."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from policies.principal import ADMIN_SCOPE


def require_admin(request: Request) -> Response | None:
    """None when the caller has the admin scope; otherwise the 403 to answer."""
    principal = request.state.principal
    if principal.has_scope(ADMIN_SCOPE):
        return None
    return JSONResponse(
        {"error": "forbidden", "message": f"the {ADMIN_SCOPE} scope is required"}, 403
    )


def admin_error(status: int, error: str, message: str) -> Response:
    return JSONResponse({"error": error, "message": message}, status)
