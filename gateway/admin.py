"""What every `/admin/*` route shares: the admin scope, and JSON errors in one shape."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from policies.authn import challenge
from policies.principal import ADMIN_SCOPE


def require_scope(request: Request, scope: str) -> Response | None:
    """None when the caller has `scope`; otherwise the 403 to answer, naming the missing
    scope in the body and in `WWW-Authenticate` (RFC 6750 `insufficient_scope`)."""
    principal = request.state.principal
    if principal.has_scope(scope):
        return None
    message = f"the {scope} scope is required"
    return JSONResponse(
        {"error": "insufficient_scope", "message": message, "scope": scope},
        403,
        headers={"WWW-Authenticate": challenge("insufficient_scope", message, scope)},
    )


def require_admin(request: Request) -> Response | None:
    """None when the caller has the admin scope; otherwise the 403 to answer."""
    return require_scope(request, ADMIN_SCOPE)


def admin_error(status: int, error: str, message: str) -> Response:
    return JSONResponse({"error": error, "message": message}, status)
