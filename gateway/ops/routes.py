"""The dashboard's routes (`gateway.ops.paths`), admin scope only.

`GET /ops` is the dashboard, or the sign-in form (401) without a session; the form posts the
key to `POST /ops/session`, which sets the session cookie (`policies.ops_sessions`) and sends
the browser back to `/ops`; `POST /ops/session/end` signs out. The page reads
`GET /ops/stream` (SSE, `gateway.ops.feed`); `GET /ops/snapshot` answers the same snapshot
once, as JSON; `POST /ops/dead-letters/{id}/replay` replays a dead letter as the admin route
does. Each of them also takes an admin API key in a header, as `/admin/*` does (tools,
tests); a request decided by the session cookie must also prove it comes from the page:
same `Origin`, and the session's CSRF token.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from federation.router.bodies import read_bounded
from federation.router.streaming import StreamShutdown
from gateway.admin import admin_error
from gateway.ops import paths
from gateway.ops.feed import SnapshotFeed, SnapshotStream
from gateway.ops.pages import (
    StaticFile,
    dashboard_page,
    html_response,
    page_headers,
    sign_in_page,
)
from gateway.security_headers import PAGE_HEADERS
from gateway.webhooks import WebhookIngress
from policies.ops_sessions import (
    CSRF_HEADER,
    IssuedSession,
    OpsSession,
    OpsSessions,
    csrf_matches,
    same_origin,
)
from policies.principal import ADMIN_SCOPE, Principal
from stores.dead_letters import DeadLetterStore

MAX_FORM_BYTES = 10_240
DEAD_LETTER_ID = re.compile(r"dl_[0-9a-f]{32}")
FORM_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True, slots=True)
class OpsDesk:
    """What the dashboard's handlers share, built in the app's lifespan."""

    sessions: OpsSessions
    feed: SnapshotFeed
    static: dict[str, StaticFile]
    shutdown: StreamShutdown
    session_ttl_s: int


def ops_routes() -> list[Route]:
    return [
        Route(paths.PAGE, page, methods=["GET"]),
        Route(paths.SESSION, sign_in, methods=["POST"]),
        Route(paths.SESSION_END, sign_out, methods=["POST"]),
        Route(paths.SNAPSHOT, snapshot, methods=["GET"]),
        Route(paths.STREAM, stream, methods=["GET"]),
        Route(paths.REPLAY, replay, methods=["POST"]),
        Route(paths.STATIC, static, methods=["GET"]),
    ]


def _desk(request: Request) -> OpsDesk:
    return request.state.ops


def _principal(request: Request) -> Principal | None:
    principal = getattr(request.state, "principal", None)
    return principal if isinstance(principal, Principal) else None


def _by_session(request: Request) -> bool:
    return bool(getattr(request.state, "by_session", False))


def _json_error(status: int, error: str, message: str) -> Response:
    response = admin_error(status, error, message)
    response.headers.update(page_headers())
    return response


def _no_query(request: Request) -> Response | None:
    if request.query_params:
        name = next(iter(request.query_params))[:40]
        return _json_error(400, "bad_request", f"unknown parameter {name!r}")
    return None


def _admin_or_refusal(request: Request) -> Principal | Response:
    principal = _principal(request)
    if principal is None:
        response = _json_error(401, "unauthenticated", "sign in at /ops, or send an admin API key")
        response.headers["WWW-Authenticate"] = 'Bearer realm="logistics-gateway"'
        return response
    if not principal.has_scope(ADMIN_SCOPE):
        return _json_error(403, "forbidden", f"the {ADMIN_SCOPE} scope is required")
    return principal


def _from_page(request: Request) -> bool:
    return same_origin(
        request.headers.get("origin"), request.url.scheme, request.headers.get("host")
    )


async def _session_of(request: Request) -> OpsSession | None:
    return await _desk(request).sessions.session(request.headers.raw)


async def _csrf_refusal(request: Request, presented: str | None) -> Response | None:
    """None when the request may change something: a presented key, or the session's page."""
    if not _by_session(request):
        return None
    session = await _session_of(request)
    if session is None or not _from_page(request) or not csrf_matches(session, presented):
        return _json_error(
            403, "csrf", "this request does not come from the dashboard page; reload it"
        )
    return None


async def page(request: Request) -> Response:
    if (refused := _no_query(request)) is not None:
        return refused
    principal = _principal(request)
    if principal is None:
        return html_response(sign_in_page(), 401)
    if not principal.has_scope(ADMIN_SCOPE):
        return html_response(sign_in_page(f"the {ADMIN_SCOPE} scope is required"), 403)
    session = await _session_of(request) if _by_session(request) else None
    return html_response(dashboard_page(principal, session.csrf_token if session else ""))


async def sign_in(request: Request) -> Response:
    """The form's post: the key in the body, a session cookie back, then the dashboard."""
    if not _from_page(request):
        return html_response(sign_in_page("sign in from this gateway's own /ops page"), 403)
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM_TYPE:
        return html_response(sign_in_page("send the sign-in form"), 415)
    body = await read_bounded(request, MAX_FORM_BYTES)
    if body is None:
        return html_response(sign_in_page(f"the form is over {MAX_FORM_BYTES} bytes"), 413)
    try:
        fields = parse_qs(body.decode("utf-8"), max_num_fields=4, errors="strict")
    except (UnicodeDecodeError, ValueError):
        return html_response(sign_in_page("the form could not be read"), 400)
    keys = fields.get("api_key", [])
    if len(keys) != 1 or not keys[0].strip():
        return html_response(sign_in_page("enter one admin API key"), 400)
    issued = await _desk(request).sessions.sign_in(
        keys[0].strip(), secure=request.url.scheme == "https"
    )
    if not isinstance(issued, IssuedSession):
        return html_response(sign_in_page(issued.message), issued.status)
    response = RedirectResponse(paths.PAGE, status_code=303, headers=page_headers())
    response.headers.append("set-cookie", issued.cookie)
    return response


async def sign_out(request: Request) -> Response:
    if not _by_session(request):
        return html_response(sign_in_page(), 401)
    body = await read_bounded(request, MAX_FORM_BYTES)
    token = None
    if body:
        try:
            token = (
                parse_qs(body.decode("utf-8"), max_num_fields=4, errors="strict").get("csrf")
                or [None]
            )[0]
        except (UnicodeDecodeError, ValueError):
            token = None
    refused = await _csrf_refusal(request, token or request.headers.get(CSRF_HEADER))
    if refused is not None:
        return refused
    response = RedirectResponse(paths.PAGE, status_code=303, headers=page_headers())
    response.headers.append("set-cookie", OpsSessions.ended_cookie())
    return response


async def snapshot(request: Request) -> Response:
    if (refused := _no_query(request)) is not None:
        return refused
    principal = _admin_or_refusal(request)
    if isinstance(principal, Response):
        return principal
    current = await _desk(request).feed.current()
    return Response(current.body, media_type="application/json", headers=page_headers())


async def stream(request: Request) -> Response:
    if (refused := _no_query(request)) is not None:
        return refused
    principal = _admin_or_refusal(request)
    if isinstance(principal, Response):
        return principal
    desk = _desk(request)
    if desk.shutdown.closing:
        return _json_error(503, "unavailable", "the gateway is stopping")
    if desk.feed.full():
        response = _json_error(
            503, "too_many_dashboards", f"{desk.feed.max_streams} dashboards are open already"
        )
        response.headers["Retry-After"] = "10"
        return response
    lasts_s: float = desk.session_ttl_s
    if _by_session(request):
        session = await _session_of(request)
        if session is None:
            return _json_error(401, "unauthenticated", "the session ended; sign in again")
        lasts_s = session.expires_at - time.time()
    return SnapshotStream(  # type: ignore[return-value]
        desk.feed,
        desk.shutdown,
        until=desk.feed.now() + max(0.0, lasts_s),
        headers=[pair for pair in PAGE_HEADERS if pair[0] != b"cache-control"],
    )


async def replay(request: Request) -> Response:
    principal = _admin_or_refusal(request)
    if isinstance(principal, Response):
        return principal
    if (refused := await _csrf_refusal(request, request.headers.get(CSRF_HEADER))) is not None:
        return refused
    if (refused := _no_query(request)) is not None:
        return refused
    letter_id = request.path_params["dead_letter_id"]
    if not DEAD_LETTER_ID.fullmatch(letter_id):
        return _json_error(400, "bad_request", "not a dead letter id (dl_ and 32 hex digits)")
    letters: DeadLetterStore = request.state.runtime.stores.dead_letters
    letter = await letters.get(letter_id)
    if letter is None:
        return _json_error(404, "not_found", "no such dead letter")
    ingress: WebhookIngress = request.state.ingress
    response = await ingress.replay(letter)
    response.headers.update(page_headers())
    return response


async def static(request: Request) -> Response:
    file = _desk(request).static.get(request.path_params["name"])
    if file is None:
        return _json_error(404, "not_found", "no such file")
    headers = {**page_headers(), "etag": file.etag}
    if request.headers.get("if-none-match") == file.etag:
        return Response(status_code=304, headers=headers)
    return Response(file.body, media_type=file.media_type, headers=headers)
