"""`/admin/keys`: API keys and OAuth clients issued at run time, for the admin's own tenant.

`POST /admin/keys` issues one (the secret is in that answer only), `GET /admin/keys` lists
them, `DELETE /admin/keys/{key_id}` revokes one. An admin acts for one tenant like every
principal, so it sees and revokes only its tenant's keys (another tenant's key id answers 404,
as an unknown one), and grants only scopes it has itself: no key is worth more than its maker.
Operators who manage every tenant use `logistics-gateway keys` on the database.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.admin import admin_error, require_admin
from gateway.authentication import Authentication
from gateway.key_issuing import (
    KeyRequest,
    credential_view,
    issue_key,
    issued_view,
    key_request_problem,
)
from gateway.runtime import GatewayRuntime
from policies.api_keys import KEY_ID

MAX_BODY_BYTES = 4096
_FIELDS = frozenset(
    {"kind", "client", "scopes", "plan", "expires_in_days", "warehouses", "description", "tenant"}
)
_NO_STORE = {"Cache-Control": "no-store"}


def key_routes() -> list[Route]:
    return [
        Route("/admin/keys", list_keys, methods=["GET"]),
        Route("/admin/keys", create_key, methods=["POST"]),
        Route("/admin/keys/{key_id}", revoke_key, methods=["DELETE"]),
    ]


def _runtime(request: Request) -> GatewayRuntime:
    return request.state.runtime


def _authentication(request: Request) -> Authentication:
    return _runtime(request).authentication


async def list_keys(request: Request) -> Response:
    if (denied := require_admin(request)) is not None:
        return denied
    if request.query_params:
        return admin_error(400, "bad_request", "GET /admin/keys takes no parameters")
    tenant = request.state.principal.tenant_id
    credentials = await _runtime(request).stores.credentials.list(tenant=tenant)
    return JSONResponse({"keys": [credential_view(c) for c in credentials]})


async def create_key(request: Request) -> Response:
    if (denied := require_admin(request)) is not None:
        return denied
    body = await _json_body(request)
    if isinstance(body, Response):
        return body
    principal = request.state.principal
    if body.get("tenant", principal.tenant_id) != principal.tenant_id:
        return admin_error(403, "forbidden", "an admin issues keys for its own tenant only")
    authentication = _authentication(request)
    default_days = authentication.lifetimes[0].days
    key_request = _key_request(body, principal.tenant_id, default_days)
    if isinstance(key_request, str):
        return admin_error(400, "bad_request", key_request)
    problem = key_request_problem(
        key_request,
        plans=authentication.plans,
        max_lifetime_days=authentication.lifetimes[1].days,
    )
    if problem is not None:
        return admin_error(400, "bad_request", problem)
    beyond = key_request.scopes - principal.scopes
    if beyond:
        return admin_error(
            403, "forbidden", f"an admin grants only scopes it has; not: {' '.join(sorted(beyond))}"
        )
    if not key_request.warehouses <= principal.warehouses:
        return admin_error(403, "forbidden", "an admin grants only warehouses it has")
    issued = await issue_key(_runtime(request).stores.credentials, key_request)
    return JSONResponse(issued_view(issued), 201, headers=_NO_STORE)


async def revoke_key(request: Request) -> Response:
    if (denied := require_admin(request)) is not None:
        return denied
    key_id = request.path_params["key_id"]
    if not KEY_ID.fullmatch(key_id):
        return admin_error(400, "bad_request", "key_id is 12 hexadecimal digits")
    tenant = request.state.principal.tenant_id
    revoked = await _runtime(request).stores.credentials.revoke(key_id, tenant=tenant)
    if revoked is None:
        return admin_error(404, "not_found", "no such key")
    _authentication(request).credentials.forget(key_id)
    return JSONResponse(credential_view(revoked))


async def _json_body(request: Request) -> dict[str, Any] | Response:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return admin_error(413, "too_large", f"the body exceeds {MAX_BODY_BYTES} bytes")
    try:
        document = orjson.loads(bytes(body))
    except orjson.JSONDecodeError:
        return admin_error(400, "bad_request", "the body must be a JSON object")
    if not isinstance(document, dict):
        return admin_error(400, "bad_request", "the body must be a JSON object")
    unknown = sorted(set(document) - _FIELDS)
    if unknown:
        return admin_error(400, "bad_request", f"unknown field {unknown[0][:40]!r}")
    return document


def _key_request(body: dict[str, Any], tenant: str, default_days: int) -> KeyRequest | str:
    kind = body.get("kind", "api_key")
    if kind not in ("api_key", "oauth_client"):
        return "kind must be api_key or oauth_client"
    client = body.get("client")
    scopes = body.get("scopes", ["read"])
    warehouses = body.get("warehouses", [])
    plan = body.get("plan", "basic")
    days = body.get("expires_in_days", default_days)
    description = body.get("description", "")
    if not isinstance(client, str):
        return "client is required: the name the key's caller acts under"
    for name, value in (("scopes", scopes), ("warehouses", warehouses)):
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            return f"{name} must be a list of strings"
        if len(value) > 100:
            return f"{name} has too many entries"
    if not isinstance(plan, str) or not isinstance(description, str):
        return "plan and description must be strings"
    if not isinstance(days, int) or isinstance(days, bool):
        return "expires_in_days must be a whole number"
    return KeyRequest(
        kind=kind,
        client=client,
        tenant=tenant,
        scopes=frozenset(scopes),
        plan=plan,
        lifetime_days=days,
        warehouses=frozenset(warehouses),
        description=description,
    )
