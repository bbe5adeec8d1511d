"""Authentication: one decision per request, made on the route the request will reach.

A request needs no credential only when the route the app's router will run for it is on a
short, fixed allowlist (health, readiness, the GraphiQL page, webhooks that check their own
signatures); everything else, unknown paths included, needs a known API key. The route is
found with the router's own matching (`Route.matches`, first full match wins, as Starlette
routes), so the decision and the handler can never read one request two ways: no guessing
from query strings, Accept headers or path prefixes. HTTP of any method, WebSocket upgrades
and anything later served over them (SSE, multipart) pass through the same function.

Keys are stored as SHA-256 digests, never in clear. Keys are long random strings, so a plain
digest is as strong as a slow hash here and keeps the check to one dictionary look-up.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import orjson
from starlette.routing import BaseRoute, Match, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from policies.principal import DEFAULT_PLAN, Principal

PUBLIC_ROUTES = frozenset(
    {"/health", "/ready", "/graphiql", "/webhooks/{source}", "/.well-known/jwks.json"}
)
"""Route templates served without a credential (a route the app does not register is not served)."""

IN_BAND_CREDENTIAL_ROUTES = frozenset({"/graphql"})
"""WebSocket routes whose clients may present their credential inside the connection
(graphql-transport-ws ``connection_init`` payload) instead of on the upgrade: browsers cannot
set headers on a WebSocket. The credential is then judged by `decide_connection`."""

API_KEY_HEADER = b"x-api-key"
_TOKEN_SCHEMES = frozenset({"bearer", "apikey"})
WEBSOCKET_UNAUTHORIZED = 4401
"""The close code graphql-transport-ws uses for an unauthorised connection."""


def digest_api_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class RegisteredClient:
    client_id: str
    tenant_id: str
    api_key_sha256: str
    scopes: frozenset[str]
    warehouses: frozenset[str] = frozenset()
    plan: str = DEFAULT_PLAN


class ApiKeyRegistry:
    """The known clients, looked up by the digest of the key they present."""

    def __init__(self, clients: Iterable[RegisteredClient]) -> None:
        self._by_digest: Mapping[str, RegisteredClient] = {
            client.api_key_sha256.lower(): client for client in clients
        }

    def authenticate(self, api_key: str) -> Principal | None:
        client = self._by_digest.get(digest_api_key(api_key))
        if client is None:
            return None
        return Principal(
            client.client_id, client.tenant_id, client.scopes, client.warehouses, client.plan
        )


@dataclass(frozen=True, slots=True)
class Public:
    """The request reaches an allowlisted route: no credential asked, no principal."""


@dataclass(frozen=True, slots=True)
class Authenticated:
    principal: Principal


@dataclass(frozen=True, slots=True)
class Refused:
    """No principal: the message says what was wrong, never which keys exist."""

    message: str


@dataclass(frozen=True, slots=True)
class Forbidden:
    """A principal, but not for this: the message says why."""

    message: str


@dataclass(frozen=True, slots=True)
class InBand:
    """A WebSocket upgrade without credential headers to a route that reads the credential
    from inside the connection: `decide_connection` decides once it arrives."""


Decision = Public | Authenticated | Refused | InBand


def presented_api_keys(headers: Iterable[tuple[bytes, bytes]]) -> frozenset[str]:
    """Every distinct key the request presents (`X-API-Key`, `Authorization: Bearer|ApiKey`)."""
    keys = set()
    for name, value in headers:
        if name == API_KEY_HEADER:
            keys.add(value.decode("latin-1").strip())
        elif name == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            if scheme.lower() in _TOKEN_SCHEMES:
                keys.add(token.strip())
    return frozenset(keys)


def authenticate_headers(
    headers: Iterable[tuple[bytes, bytes]], registry: ApiKeyRegistry
) -> Authenticated | Refused:
    """The principal of exactly one known key; two different keys are refused, not chosen."""
    keys = presented_api_keys(headers)
    if len(keys) > 1:
        return Refused("more than one API key presented; send exactly one")
    api_key = next(iter(keys), "")
    if not api_key:
        return Refused("an API key is required (X-API-Key or Authorization: Bearer header)")
    principal = registry.authenticate(api_key)
    if principal is None:
        return Refused("invalid API key")
    return Authenticated(principal)


def matched_route(routes: Sequence[BaseRoute], scope: Scope) -> BaseRoute | None:
    """The route the router will run for `scope`: the first full match, as Starlette routes."""
    for route in routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return route
    return None


def decide(scope: Scope, routes: Sequence[BaseRoute], registry: ApiKeyRegistry) -> Decision:
    """The one authentication decision for an HTTP request or a WebSocket connection."""
    route = matched_route(routes, scope)
    if isinstance(route, Route) and route.path in PUBLIC_ROUTES:
        return Public()
    if (
        isinstance(route, WebSocketRoute)
        and route.path in IN_BAND_CREDENTIAL_ROUTES
        and not presented_api_keys(scope["headers"])
    ):
        return InBand()
    return authenticate_headers(scope["headers"], registry)


_CONNECTION_CREDENTIALS = frozenset({"x-api-key", "authorization"})


def connection_credentials(payload: Mapping[str, object]) -> list[tuple[bytes, bytes]] | Refused:
    """The credential headers a ``connection_init`` payload carries, at its top level or in
    its ``headers`` object (as Apollo's and urql's clients send them), names in any case."""
    sources: list[Mapping[object, object]] = [payload]
    for key, value in payload.items():
        if isinstance(key, str) and key.lower() == "headers" and isinstance(value, Mapping):
            sources.append(value)
    pairs = []
    for source in sources:
        for key, value in source.items():
            name = key.lower() if isinstance(key, str) else ""
            if name not in _CONNECTION_CREDENTIALS:
                continue
            if not isinstance(value, str):
                return Refused(f"the {name} connection parameter must be a string")
            pairs.append((name.encode(), value.encode()))
    return pairs


def decide_connection(
    upgrade: Principal | None, payload: Mapping[str, object], registry: ApiKeyRegistry
) -> Authenticated | Refused | Forbidden:
    """Who a WebSocket connection acts for, from its upgrade's principal (None when the
    upgrade carried no credential) and its ``connection_init`` payload: the same key rules
    as `authenticate_headers`, and one connection acts for one client only."""
    pairs = connection_credentials(payload)
    if isinstance(pairs, Refused):
        return pairs
    if not pairs:
        if upgrade is None:
            return Refused(
                "an API key is required (X-API-Key header on the upgrade, or x-api-key or "
                "authorization in the connection_init payload)"
            )
        return Authenticated(upgrade)
    decided = authenticate_headers(pairs, registry)
    if isinstance(decided, Refused) or upgrade is None or decided.principal == upgrade:
        return decided
    return Forbidden("the connection_init credential names another client than the upgrade's")


def unauthenticated_body(message: str) -> bytes:
    return orjson.dumps(
        {"errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}]}
    )


class ApiKeyAuthentication:
    """ASGI middleware applying `decide`; the principal goes into the scope's state."""

    def __init__(self, app: ASGIApp, registry: ApiKeyRegistry, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.registry = registry
        self.routes = tuple(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        decision = decide(scope, self.routes, self.registry)
        if isinstance(decision, Refused):
            await _refuse(scope, send, decision.message)
            return
        if isinstance(decision, Authenticated):
            scope.setdefault("state", {})["principal"] = decision.principal
        await self.app(scope, receive, send)


async def _refuse(scope: Scope, send: Send, message: str) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"www-authenticate", b'Bearer realm="logistics-gateway"'),
    ]
    body = unauthenticated_body(message)
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 401, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    elif "websocket.http.response" in scope.get("extensions", {}):
        # The handshake itself answers 401, so clients see why, not a bare 403.
        await send({"type": "websocket.http.response.start", "status": 401, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": WEBSOCKET_UNAUTHORIZED})
