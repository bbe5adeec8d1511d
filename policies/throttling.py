"""Throttling in the request pipeline: two ASGI middlewares around authentication.

`FailedAuthenticationThrottle` sits before authentication: a source address whose requests
failed authentication (401, or a WebSocket closed 4401) too often within the window is
answered 429 before its credential is even looked at, so keys cannot be guessed at speed.
`ClientRateLimiting` sits right after it: every request of a principal (read from
`scope["state"]["principal"]`, whoever authenticated it) spends its quotas; over them, 429.
Every request it counts is answered with the `RateLimit` and `RateLimit-Policy` headers
(see `policies.rate_limits`); a refusal carries `Retry-After` and a GraphQL error with
`extensions.code = "RATE_LIMITED"`.

What counts as one request: an HTTP request of any method (a streamed SSE or multipart
subscription included), a WebSocket upgrade, and each operation a WebSocket carries
(`OperationAdmission`, through the router's per-operation hook). A document's aliases or
fields do not multiply it (operation limits and demand control judge those), and the router
takes no batched requests (a JSON array is refused with 400, counted as one request).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import orjson
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from policies.authn import PUBLIC_ROUTES, WEBSOCKET_UNAUTHORIZED, matched_route
from policies.principal import DEFAULT_PLAN, Principal
from policies.rate_limits import Quota, RateLimits, Verdict

RATE_LIMITED = "RATE_LIMITED"

Refused = Callable[[str, str | None], None]
"""``on_refused(limit, client id)`` for each refusal, for metrics: the limit is ``client``
(its rate limits), ``failed_authentication`` (its address's failures) or ``subscriptions``
(its open-subscription cap); the client is None before authentication."""
WEBSOCKET_TRY_AGAIN_LATER = 1013
"""The close code (RFC 6455 registry) for a WebSocket refused for now; used only where the
server cannot answer the upgrade with an HTTP 429."""


class QuotaBook:
    """Each principal's quotas: its client's own when configured, else its plan's."""

    def __init__(
        self,
        plans: Mapping[str, Sequence[Quota]],
        clients: Mapping[str, Sequence[Quota]] | None = None,
    ) -> None:
        self._plans = {name: tuple(quotas) for name, quotas in plans.items()}
        self._clients = {name: tuple(quotas) for name, quotas in (clients or {}).items()}

    def quotas_for(self, principal: Principal) -> tuple[Quota, ...]:
        own = self._clients.get(principal.client_id)
        if own is not None:
            return own
        plan = self._plans.get(principal.plan)
        if plan is None:  # a principal naming a plan we do not know gets the default one
            plan = self._plans.get(DEFAULT_PLAN, ())
        return plan


def client_key(principal: Principal) -> tuple[str, str]:
    return ("client", principal.client_id)


def refusal_message(verdict: Verdict, whom: str) -> str:
    quota = verdict.exceeded
    allowed = f": at most {quota.describe()}" if quota is not None else ""
    return f"Rate limit exceeded for {whom}{allowed}; retry in {verdict.retry_after_s} s."


def rate_limited_error(verdict: Verdict, whom: str) -> dict[str, object]:
    """The GraphQL error of a refused request or operation."""
    return {
        "message": refusal_message(verdict, whom),
        "extensions": {"code": RATE_LIMITED, "retryAfter": verdict.retry_after_s},
    }


async def refuse(scope: Scope, send: Send, verdict: Verdict, whom: str) -> None:
    """429 with the headers and a GraphQL error; a WebSocket upgrade is answered the same
    way where the server allows it, else closed as "try again later"."""
    headers = [(b"content-type", b"application/json"), *verdict.headers()]
    body = orjson.dumps({"errors": [rate_limited_error(verdict, whom)]})
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    elif "websocket.http.response" in scope.get("extensions", {}):
        await send({"type": "websocket.http.response.start", "status": 429, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": WEBSOCKET_TRY_AGAIN_LATER})


def with_headers(send: Send, headers: list[tuple[bytes, bytes]]) -> Send:
    """`send` adding `headers` to the response's start (or the WebSocket's accept)."""
    if not headers:
        return send

    async def sending(message: Message) -> None:
        if message["type"] in ("http.response.start", "websocket.accept"):
            message = {**message, "headers": [*message.get("headers", ()), *headers]}
        await send(message)

    return sending


class ClientRateLimiting:
    """After authentication: each request of a principal spends its quotas."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limits: RateLimits,
        quotas: QuotaBook,
        on_refused: Refused | None = None,
    ) -> None:
        self.app = app
        self.limits = limits
        self.quotas = quotas
        self.on_refused = on_refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = scope.get("state", {}).get("principal")
        if scope["type"] not in ("http", "websocket") or not isinstance(principal, Principal):
            await self.app(scope, receive, send)
            return
        quotas = self.quotas.quotas_for(principal)
        verdict = await self.limits.hit(client_key(principal), quotas)
        if not verdict.allowed:
            if self.on_refused is not None:
                self.on_refused("client", principal.client_id)
            await refuse(scope, send, verdict, "this client")
            return
        await self.app(scope, receive, with_headers(send, verdict.headers()))


class FailedAuthenticationThrottle:
    """Before authentication: too many failed authentications from one source address
    within the window, and its requests are refused without looking at their credentials.

    Routes that take no credential (`policies.authn.PUBLIC_ROUTES`) are never refused here.
    The address is the connection's peer as the server reports it (behind a proxy, run
    uvicorn with `--forwarded-allow-ips` so it is the client's)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limits: RateLimits,
        quotas: Sequence[Quota],
        routes: Sequence[BaseRoute],
        on_refused: Refused | None = None,
    ) -> None:
        self.app = app
        self.limits = limits
        self.quotas = tuple(quotas)
        self.routes = tuple(routes)
        self.on_refused = on_refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self.quotas or self._public(scope):
            await self.app(scope, receive, send)
            return
        key = ("unauthenticated", source_address(scope))
        verdict = await self.limits.peek(key, self.quotas)
        if not verdict.allowed:
            if self.on_refused is not None:
                self.on_refused("failed_authentication", None)
            await refuse(scope, send, verdict, "this address after failed authentications")
            return
        counted = False

        async def watching(message: Message) -> None:
            nonlocal counted
            if not counted and _is_authentication_failure(message):
                counted = True
                await self.limits.hit(key, self.quotas)
            await send(message)

        await self.app(scope, receive, watching)

    def _public(self, scope: Scope) -> bool:
        route = matched_route(self.routes, scope)
        return isinstance(route, Route) and route.path in PUBLIC_ROUTES


def source_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _is_authentication_failure(message: Message) -> bool:
    kind = message["type"]
    if kind in ("http.response.start", "websocket.http.response.start"):
        return message.get("status") == 401
    return kind == "websocket.close" and message.get("code") == WEBSOCKET_UNAUTHORIZED
