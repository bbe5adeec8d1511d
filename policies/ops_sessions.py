"""Operator sessions for the browser dashboard: a short-lived signed cookie, and CSRF checks.

Why a cookie: a page a browser navigates to cannot send `X-API-Key`, and the key must never
travel in a URL (it would land in history, logs and Referer headers). Keeping the key in the
page's JavaScript memory instead would hand it to any script running in the page, and it
would be lost on every reload. So the operator posts the admin key once, in a form body, to
`/ops/session`; the gateway answers with a session cookie that is

- signed (a JWT, HS256, `[ops] session_signing_key`, which every process of a deployment
  shares, so any replica accepts it) and short-lived (`[ops] session_ttl_s`);
- `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's page makes the browser
  send it), `Path=/ops` (never sent to the API), and `Secure` when the page came over HTTPS;
- accepted on the dashboard's routes only (`policies.authn.BrowserSessions.routes`), never on
  `/graphql` or `/admin/*`, which keep asking for the key itself.

Any admin API key signs in: a configured client's (the session holds a fingerprint of its
key's digest) or one issued at run time (the session holds its key id). Each request looks
the client up again: a removed client, a changed, revoked or expired key or a scope taken
away ends the session at once (within the credentials' cache of a few seconds for issued
keys, on every process). Bearer tokens do not sign in: they expire on their issuer's clock,
which a session cookie could outlive.

Cross-site request forgery is stopped three times over: `SameSite=Strict`; every
state-changing request must carry an `Origin` equal to the page's own; and requests decided
by the session must echo its CSRF token (held in the signed cookie, written into the page the
session opened) in `X-CSRF-Token`. The sign-in itself (no session yet) is checked by origin.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie

from authlib.deprecate import AuthlibDeprecationWarning

with warnings.catch_warnings():
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.jose import JsonWebToken
    from authlib.jose.errors import JoseError

from policies.api_keys import StoredCredentials, api_key_id, principal_of
from policies.authn import MAX_CREDENTIAL_BYTES, ApiKeyRegistry, RegisteredClient
from policies.principal import ADMIN_SCOPE, Principal

COOKIE_NAME = "ops_session"
COOKIE_PATH = "/ops"
CSRF_HEADER = "x-csrf-token"
ISSUER = "logistics-gateway/ops"
MAX_COOKIE_HEADER = 4096
"""Longer `Cookie` headers are not read for a session (ours is a few hundred bytes)."""


@dataclass(frozen=True, slots=True)
class OpsSession:
    principal: Principal
    csrf_token: str
    expires_at: int


@dataclass(frozen=True, slots=True)
class IssuedSession:
    cookie: str
    """The whole `Set-Cookie` value."""
    session: OpsSession


@dataclass(frozen=True, slots=True)
class SignInRefused:
    status: int
    """401 for a credential that is not a valid API key, 403 for one without admin."""
    message: str


CONFIGURED, ISSUED = "configured", "issued"


class OpsSessions:
    """Mints and checks operator sessions against the clients as they are now."""

    routes: frozenset[str]

    def __init__(
        self,
        registry: ApiKeyRegistry,
        stored: StoredCredentials | None,
        signing_key: str,
        *,
        ttl_s: int,
        routes: Iterable[str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.registry = registry
        self.stored = stored
        self.routes = frozenset(routes)
        self.ttl_s = ttl_s
        self._key = signing_key.encode()
        self._jwt = JsonWebToken(["HS256"])
        self._clock = clock

    async def sign_in(self, api_key: str, *, secure: bool) -> IssuedSession | SignInRefused:
        """A session for an admin API key, or why there is none."""
        if len(api_key) > MAX_CREDENTIAL_BYTES:
            return SignInRefused(401, "invalid API key")
        configured = self.registry.registered(api_key)
        parsed = api_key_id(api_key)
        if configured is not None:
            principal = configured.principal()
            held = {"src": CONFIGURED, "key": _fingerprint(configured)}
        elif self.stored is not None and parsed is not None:
            verified = await self.stored.verify(*parsed, "api_key")
            if isinstance(verified, str):
                return SignInRefused(401, verified)
            principal = principal_of(verified)
            held = {"src": ISSUED, "key": verified.key_id}
        else:
            return SignInRefused(401, "invalid API key")
        if not principal.has_scope(ADMIN_SCOPE):
            return SignInRefused(403, f"this key's client lacks the {ADMIN_SCOPE} scope")
        issued = int(self._clock())
        csrf = secrets.token_urlsafe(32)
        claims = {
            "iss": ISSUER,
            "sub": principal.client_id,
            **held,
            "csrf": csrf,
            "iat": issued,
            "exp": issued + self.ttl_s,
        }
        token = self._jwt.encode({"alg": "HS256", "typ": "JWT"}, claims, self._key).decode()
        attributes = [
            f"{COOKIE_NAME}={token}",
            f"Path={COOKIE_PATH}",
            f"Max-Age={self.ttl_s}",
            "HttpOnly",
            "SameSite=Strict",
        ]
        if secure:
            attributes.append("Secure")
        session = OpsSession(principal, csrf, issued + self.ttl_s)
        return IssuedSession("; ".join(attributes), session)

    @staticmethod
    def ended_cookie() -> str:
        return f"{COOKIE_NAME}=; Path={COOKIE_PATH}; Max-Age=0; HttpOnly; SameSite=Strict"

    async def session(self, headers: Iterable[tuple[bytes, bytes]]) -> OpsSession | None:
        """The valid session the request's cookie holds, checked against the clients as they
        are now; None for none, a forged, expired or revoked one."""
        token = _cookie(headers)
        if token is None:
            return None
        options = {
            "iss": {"essential": True, "value": ISSUER},
            "sub": {"essential": True},
            "src": {"essential": True},
            "key": {"essential": True},
            "csrf": {"essential": True},
            "exp": {"essential": True},
        }
        try:
            claims = self._jwt.decode(token, self._key, claims_options=options)
            claims.validate(now=int(self._clock()), leeway=0)
        except (JoseError, ValueError, TypeError):
            return None
        principal = await self._current(str(claims["src"]), str(claims["sub"]), str(claims["key"]))
        if principal is None or not principal.has_scope(ADMIN_SCOPE):
            return None
        return OpsSession(principal, str(claims["csrf"]), int(claims["exp"]))

    async def principal(self, headers: Iterable[tuple[bytes, bytes]]) -> Principal | None:
        session = await self.session(headers)
        return None if session is None else session.principal

    async def _current(self, source: str, client_id: str, key: str) -> Principal | None:
        """The session's client as it is now, if the key it signed in with still stands."""
        if source == CONFIGURED:
            client = self.registry.client(client_id)
            if client is None or not hmac.compare_digest(key, _fingerprint(client)):
                return None
            return client.principal()
        if source == ISSUED and self.stored is not None:
            credential = await self.stored.active(key)
            if isinstance(credential, str) or credential.kind != "api_key":
                return None
            principal = principal_of(credential)
            return principal if principal.client_id == client_id else None
        return None


def csrf_matches(session: OpsSession, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(
        presented.encode(), session.csrf_token.encode()
    )


def same_origin(origin: str | None, scheme: str, host: str | None) -> bool:
    """Whether a request's `Origin` is the origin the page was served from (`scheme://host`
    as the request addressed it); a request without one is refused."""
    if not origin or not host:
        return False
    return hmac.compare_digest(origin.lower().encode(), f"{scheme}://{host}".lower().encode())


def _fingerprint(client: RegisteredClient) -> str:
    """Changes when the client's key does; reveals nothing usable of the key's digest."""
    digest = hashlib.sha256(b"ops-session\x1f" + client.api_key_sha256.lower().encode())
    return digest.hexdigest()[:32]


def _cookie(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name != b"cookie" or len(value) > MAX_COOKIE_HEADER:
            continue
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(value.decode("latin-1"))
        except CookieError:
            continue
        morsel = jar.get(COOKIE_NAME)
        if morsel is not None and morsel.value:
            return morsel.value
    return None
