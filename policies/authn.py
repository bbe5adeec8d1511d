"""Authentication: one decision per request, made on the route the request will reach.

A request needs no credential only when the route the app's router will run for it is on a
short, fixed allowlist (health, readiness, the GraphiQL page, webhooks that check their own
signatures, the OAuth endpoints that authenticate their clients themselves); everything else,
unknown paths included, needs a valid credential. The route is found with the router's own
matching (`Route.matches`, first full match wins, as Starlette routes), so the decision and
the handler can never read one request two ways: no guessing from query strings, Accept
headers or path prefixes. HTTP of any method, WebSocket upgrades, the credential a WebSocket
client sends in `connection_init`, and anything later served over them (SSE, multipart) pass
through the same `Authenticator`.

A credential comes as `X-API-Key` or `Authorization: Bearer` (or `ApiKey`). A value shaped
like a JWT (three dot-separated base64url parts) is verified as a bearer token of a trusted
issuer (`policies.bearer_tokens`); anything else is an API key: a configured one (stored as a
SHA-256 digest: keys are long random strings, so a plain digest is as strong as a slow hash
and the check is one dictionary look-up) or one issued at run time (`policies.api_keys`).
A refusal is a 401 whose `WWW-Authenticate` says what is wrong in RFC 6750's terms.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import orjson
from starlette.routing import BaseRoute, Match, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from policies.api_keys import StoredCredentials, principal_of
from policies.bearer_tokens import BearerTokens, TokenRejected, looks_like_jwt
from policies.oauth_server import CLIENT_AUTHENTICATED_PATHS, DOCUMENT_PATHS
from policies.principal import DEFAULT_PLAN, Principal
from stores.credentials import Credential

PUBLIC_ROUTES = frozenset(
    {"/health", "/ready", "/graphiql", "/webhooks/{source}", "/.well-known/jwks.json"}
    | DOCUMENT_PATHS
)
"""Route templates served without a credential (a route the app does not register is not served)."""

CLIENT_AUTHENTICATED_ROUTES = CLIENT_AUTHENTICATED_PATHS
"""Routes that authenticate their callers themselves (the OAuth endpoints: client id and
secret, RFC 6749 §2.3), so they take no gateway credential; unlike `PUBLIC_ROUTES`, their
refusals (401) are failed authentications like any other, for the per-address throttle."""

IN_BAND_CREDENTIAL_ROUTES = frozenset({"/graphql"})
"""WebSocket routes whose clients may present their credential inside the connection
(graphql-transport-ws ``connection_init`` payload) instead of on the upgrade: browsers cannot
set headers on a WebSocket. The credential is then judged by `decide_connection`."""

API_KEY_HEADER = b"x-api-key"
_TOKEN_SCHEMES = frozenset({"bearer", "apikey"})
WEBSOCKET_UNAUTHORIZED = 4401
"""The close code graphql-transport-ws uses for an unauthorised connection."""
REALM = "logistics-gateway"
MAX_CREDENTIAL_BYTES = 8192
"""Longer credentials are refused before any look-up (the longest real one is a JWT)."""


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
    contract: str | None = None

    def principal(self) -> Principal:
        return Principal(
            self.client_id, self.tenant_id, self.scopes, self.warehouses, self.plan, self.contract
        )


class ApiKeyRegistry:
    """The configured clients, looked up by the digest of the key they present."""

    def __init__(self, clients: Iterable[RegisteredClient]) -> None:
        self._by_digest: Mapping[str, RegisteredClient] = {
            client.api_key_sha256.lower(): client for client in clients
        }

        self._by_id: Mapping[str, RegisteredClient] = {
            client.client_id: client for client in self._by_digest.values()
        }

    def authenticate(self, api_key: str) -> Principal | None:
        client = self.registered(api_key)
        return None if client is None else client.principal()

    def registered(self, api_key: str) -> RegisteredClient | None:
        return self._by_digest.get(digest_api_key(api_key))

    def client(self, client_id: str) -> RegisteredClient | None:
        """The client as configured now (a session names its client and is checked again)."""
        return self._by_id.get(client_id)


class BrowserSessions(Protocol):
    """A credential a browser sends by itself (a signed session cookie), because a page it
    navigates to cannot send an `X-API-Key` header. Being ambient, it is accepted on `routes`
    only, never on the API's, and those routes check that each state-changing request comes
    from their own page (CSRF)."""

    routes: frozenset[str]
    """Route templates on which the session stands for its principal."""

    async def principal(self, headers: Iterable[tuple[bytes, bytes]]) -> Principal | None:
        """The principal of a valid, unexpired session the request carries, else None."""
        ...


@dataclass(frozen=True, slots=True)
class Public:
    """The request reaches an allowlisted route: no credential asked, no principal."""


@dataclass(frozen=True, slots=True)
class Authenticated:
    principal: Principal
    by_session: bool = False
    """Decided by a browser session rather than a presented credential (CSRF checks apply)."""
    credential: str | None = field(default=None, repr=False, compare=False)
    """The credential it was decided by, to judge again while a live connection lasts (None
    for a session); never shown."""
    expires_at: float | None = None
    """When that credential stops being accepted (POSIX seconds, leeway included); None when
    it does not expire by itself (a configured key)."""


@dataclass(frozen=True, slots=True)
class Refused:
    """No principal: the message says what was wrong, never which keys exist. `error` is the
    RFC 6750 code (`invalid_request`, `invalid_token`), None when no credential came at all."""

    message: str
    error: str | None = "invalid_token"


@dataclass(frozen=True, slots=True)
class Forbidden:
    """A principal, but not for this: the message says why."""

    message: str


@dataclass(frozen=True, slots=True)
class InBand:
    """A WebSocket upgrade without credential headers to a route that reads the credential
    from inside the connection: `decide_connection` decides once it arrives."""


@dataclass(frozen=True, slots=True)
class SignInRequired:
    """A browser-session route reached with neither credential nor valid session: the route
    answers for itself (a sign-in page, or the sign-in itself), with no principal."""


Decision = Public | Authenticated | Refused | InBand | SignInRequired

MISSING = (
    "an API key is required (X-API-Key header, or Authorization: Bearer with an API key or "
    "an access token)"
)


class Authenticator:
    """Every credential the gateway accepts, judged in one place."""

    def __init__(
        self,
        configured: ApiKeyRegistry,
        *,
        stored: StoredCredentials | None = None,
        tokens: BearerTokens | None = None,
        sessions: BrowserSessions | None = None,
    ) -> None:
        self.configured = configured
        self.stored = stored
        self.tokens = tokens
        self.sessions = sessions

    async def authenticate(self, credential: str) -> Authenticated | Refused:
        if len(credential) > MAX_CREDENTIAL_BYTES:
            return Refused(f"the credential is longer than {MAX_CREDENTIAL_BYTES} bytes")
        if self.tokens is not None and looks_like_jwt(credential):
            verified = await self.tokens.verify(credential)
            if isinstance(verified, TokenRejected):
                return Refused(verified.description)
            return Authenticated(
                verified.principal, credential=credential, expires_at=verified.expires_at
            )
        principal = self.configured.authenticate(credential)
        if principal is not None:
            return Authenticated(principal, credential=credential)
        if self.stored is not None:
            issued = await self.stored.authenticate_api_key(credential)
            if isinstance(issued, Credential):
                return Authenticated(
                    principal_of(issued),
                    credential=credential,
                    expires_at=issued.expires_at.timestamp(),
                )
            if isinstance(issued, str):
                return Refused(issued)
        return Refused("invalid API key")


def presented_api_keys(headers: Iterable[tuple[bytes, bytes]]) -> frozenset[str]:
    """Every distinct credential the request presents (`X-API-Key`, `Authorization: Bearer`
    or `ApiKey`)."""
    keys = set()
    for name, value in headers:
        if name == API_KEY_HEADER:
            keys.add(value.decode("latin-1").strip())
        elif name == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            if scheme.lower() in _TOKEN_SCHEMES:
                keys.add(token.strip())
    return frozenset(keys)


async def authenticate_headers(
    headers: Iterable[tuple[bytes, bytes]], authenticator: Authenticator
) -> Authenticated | Refused:
    """The principal of exactly one valid credential; two different ones are refused, not
    chosen."""
    keys = presented_api_keys(headers)
    if len(keys) > 1:
        return Refused(
            "more than one API key or token presented; send exactly one", "invalid_request"
        )
    api_key = next(iter(keys), "")
    if not api_key:
        return Refused(MISSING, None)
    return await authenticator.authenticate(api_key)


def matched_route(routes: Sequence[BaseRoute], scope: Scope) -> BaseRoute | None:
    """The route the router will run for `scope`: the first full match, as Starlette routes."""
    for route in routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return route
    return None


async def decide(
    scope: Scope, routes: Sequence[BaseRoute], authenticator: Authenticator
) -> Decision:
    """The one authentication decision for an HTTP request or a WebSocket connection."""
    route = matched_route(routes, scope)
    if isinstance(route, Route) and (
        route.path in PUBLIC_ROUTES or route.path in CLIENT_AUTHENTICATED_ROUTES
    ):
        return Public()
    sessions = authenticator.sessions
    if (
        sessions is not None
        and scope["type"] == "http"
        and isinstance(route, Route)
        and route.path in sessions.routes
        and not presented_api_keys(scope["headers"])
    ):
        principal = await sessions.principal(scope["headers"])
        if principal is None:
            return SignInRequired()
        return Authenticated(principal, by_session=True)
    if (
        isinstance(route, WebSocketRoute)
        and route.path in IN_BAND_CREDENTIAL_ROUTES
        and not presented_api_keys(scope["headers"])
    ):
        return InBand()
    return await authenticate_headers(scope["headers"], authenticator)


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
                return Refused(
                    f"the {name} connection parameter must be a string", "invalid_request"
                )
            pairs.append((name.encode(), value.encode()))
    return pairs


async def decide_connection(
    upgrade: Principal | None, payload: Mapping[str, object], authenticator: Authenticator
) -> Authenticated | Refused | Forbidden:
    """Who a WebSocket connection acts for, from its upgrade's principal (None when the
    upgrade carried no credential) and its ``connection_init`` payload: the same rules as
    `authenticate_headers`, and one connection acts for one client only."""
    pairs = connection_credentials(payload)
    if isinstance(pairs, Refused):
        return pairs
    if not pairs:
        if upgrade is None:
            return Refused(
                "an API key is required (X-API-Key header on the upgrade, or x-api-key or "
                "authorization in the connection_init payload)",
                None,
            )
        return Authenticated(upgrade)
    decided = await authenticate_headers(pairs, authenticator)
    if isinstance(decided, Refused) or upgrade is None or decided.principal == upgrade:
        return decided
    return Forbidden("the connection_init credential names another client than the upgrade's")


def unauthenticated_body(message: str) -> bytes:
    return orjson.dumps(
        {"errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}]}
    )


_UNSAFE = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


def challenge(error: str | None = None, description: str = "", scope: str = "") -> str:
    """A `WWW-Authenticate: Bearer` value (RFC 6750 §3): the realm, and when something was
    presented, what was wrong with it (quotes and backslashes cannot occur in its words)."""
    parts = [f'Bearer realm="{REALM}"']
    if error:
        parts.append(f'error="{error}"')
        if description:
            parts.append(f'error_description="{_UNSAFE.sub("", description)[:300]}"')
    if scope:
        parts.append(f'scope="{_UNSAFE.sub("", scope)}"')
    return ", ".join(parts)


class AuthenticationMiddleware:
    """ASGI middleware applying `decide`; the principal goes into the scope's state.

    The `Authenticator` comes from the app's lifespan state (`state_key`): it needs the
    stores, which open with the app, not with the middleware. Without one nothing passes."""

    def __init__(
        self, app: ASGIApp, routes: Sequence[BaseRoute], state_key: str = "authenticator"
    ) -> None:
        self.app = app
        self.routes = tuple(routes)
        self.state_key = state_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        authenticator = scope.get("state", {}).get(self.state_key)
        if not isinstance(authenticator, Authenticator):
            await _refuse(scope, send, Refused("the gateway is not ready to authenticate", None))
            return
        decision = await decide(scope, self.routes, authenticator)
        if isinstance(decision, Refused):
            await _refuse(scope, send, decision)
            return
        if isinstance(decision, Authenticated):
            state = scope.setdefault("state", {})
            state["principal"] = decision.principal
            state["by_session"] = decision.by_session
            state["authenticated"] = decision  # what a live connection is judged by again
        await self.app(scope, receive, send)


async def _refuse(scope: Scope, send: Send, refused: Refused) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"www-authenticate", challenge(refused.error, refused.message).encode()),
    ]
    status = 401  # invalid_request too: one status for every refused credential
    body = unauthenticated_body(refused.message)
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    elif "websocket.http.response" in scope.get("extensions", {}):
        # The handshake itself answers 401, so clients see why, not a bare 403.
        await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": WEBSOCKET_UNAUTHORIZED})
