"""The OAuth 2.0 endpoints of the gateway, on authlib's framework-agnostic authorization server.

authlib's server is synchronous and asks its host framework for requests and responses; there
is no Starlette integration for the server side, so this module is one. Per request, what
needs the event loop is done first: the form is read (small, urlencoded, no repeated
parameter), the named client is looked up (configuration, then the credential store), and for
revocation and introspection the presented token is verified through the gateway's one
bearer-token path. authlib then runs with those answers at hand, on a small thread pool
because checking a configured client's secret is a deliberately slow hash. Effects authlib
asks for (revoking a token) are carried out on the loop afterwards, before the answer leaves.

Endpoints: `POST /oauth/token` (client credentials, RFC 6749 §4.4), `POST /oauth/revoke`
(RFC 7009), `POST /oauth/introspect` (RFC 7662, for a client of the token's own tenant),
`GET /oauth/jwks.json` and `GET /.well-known/oauth-authorization-server` (RFC 8414).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qsl, unquote

from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientCredentialsGrant,
    InvalidGrantError,
    InvalidScopeError,
    OAuth2Request,
    TokenMixin,
)
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from policies.bearer_tokens import BearerTokens, VerifiedToken
from policies.oauth_clients import MAX_SECRET_LENGTH, OAuthClient, OAuthClients
from policies.oauth_tokens import RevokedTokens, TokenSigner

TOKEN_PATH = "/oauth/token"
REVOKE_PATH = "/oauth/revoke"
INTROSPECT_PATH = "/oauth/introspect"
JWKS_PATH = "/oauth/jwks.json"
METADATA_PATH = "/.well-known/oauth-authorization-server"
CLIENT_AUTHENTICATED_PATHS = frozenset({TOKEN_PATH, REVOKE_PATH, INTROSPECT_PATH})
"""Routes that authenticate their caller (an OAuth client) themselves."""
DOCUMENT_PATHS = frozenset({JWKS_PATH, METADATA_PATH})
"""Public documents: the keys and the metadata."""

AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
REALM = "logistics-gateway"
MAX_FORM_BYTES = 8192
MAX_FIELDS = 16
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class _Request(OAuth2Request):
    """A Starlette request as authlib reads it, with what was looked up for it beforehand."""

    def __init__(
        self,
        uri: str,
        headers: Mapping[str, str],
        form: dict[str, str],
        client: OAuthClient | None,
        token: VerifiedToken | None = None,
    ) -> None:
        super().__init__("POST", uri, headers=headers)
        self.payload = BasicOAuth2Payload(form)
        self._form = form
        self.found_client = client
        self.found_token = token
        self.revoked: list[VerifiedToken] = []

    @property
    def args(self) -> dict[str, str]:
        return {}

    @property
    def form(self) -> dict[str, str]:
        return self._form


def _authenticate(read: Callable[[_Request], tuple[str | None, str | None]]):  # type: ignore[no-untyped-def]
    """A client authentication method of authlib's, against the client looked up before."""

    def authenticate(_query_client: object, request: _Request) -> OAuthClient | None:
        client_id, secret = read(request)
        client = request.found_client
        if not client_id or not secret or client is None or client.client_id != client_id:
            return None
        return client if client.check_client_secret(secret) else None

    return authenticate


def _basic(request: _Request) -> tuple[str | None, str | None]:
    return extract_basic_authorization(request.headers)


def _post(request: _Request) -> tuple[str | None, str | None]:
    return request.form.get("client_id"), request.form.get("client_secret")


class _ClientCredentials(ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def validate_requested_scope(self) -> None:
        """A client may ask any subset of its scopes (all of them when it names none)."""
        requested = self.request.payload.scope
        if requested is None:
            return
        asked = set(requested.split())
        allowed = self.request.client.principal.scopes
        if not asked:
            raise InvalidScopeError("the scope parameter names no scope")
        if not asked <= allowed:
            raise InvalidScopeError(
                "the client may not ask for: " + " ".join(sorted(asked - allowed))
            )


class _IssuedToken(TokenMixin):
    def __init__(self, verified: VerifiedToken) -> None:
        self.verified = verified
        self.claims = verified.claims

    def check_client(self, client: OAuthClient) -> bool:
        return self.claims.get("client_id") == client.client_id

    def get_scope(self) -> str:
        return str(self.claims.get("scope", ""))

    def get_expires_in(self) -> int:
        return int(self.claims["exp"]) - int(self.claims["iat"])

    def is_expired(self) -> bool:
        return False  # verified just now

    def is_revoked(self) -> bool:
        return False  # verified just now

    def get_client(self) -> None:
        return None


class _Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = AUTH_METHODS
    SUPPORTED_TOKEN_TYPES = ("access_token",)

    def authenticate_token(self, request: _Request, client: OAuthClient) -> _IssuedToken | None:
        self.check_params(request, client)
        token = _IssuedToken(request.found_token) if request.found_token else None
        if token and not token.check_client(client):
            raise InvalidGrantError("the token was issued to another client")
        return token

    def revoke_token(self, token: _IssuedToken, request: _Request) -> None:
        request.revoked.append(token.verified)


class _Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = AUTH_METHODS
    SUPPORTED_TOKEN_TYPES = ("access_token",)

    def authenticate_token(self, request: _Request, client: OAuthClient) -> _IssuedToken | None:
        self.check_params(request, client)
        token = _IssuedToken(request.found_token) if request.found_token else None
        if token and self.check_permission(token, client, request):
            return token
        return None

    def check_permission(self, token: _IssuedToken, client: OAuthClient, request: object) -> bool:
        return token.claims.get("tenant") == client.principal.tenant_id

    def introspect_token(self, token: _IssuedToken) -> dict[str, Any]:
        claims = token.claims
        described = {
            key: claims[key]
            for key in ("client_id", "scope", "sub", "aud", "iss", "exp", "iat", "jti", "tenant")
            if key in claims
        }
        described.update({"active": True, "token_type": "Bearer", "plan": claims.get("plan")})
        return described


class _Server(AuthorizationServer):
    def __init__(self, signer: TokenSigner) -> None:
        super().__init__(scopes_supported=None)
        self._signer = signer
        self.register_grant(_ClientCredentials)
        self.register_endpoint(_Revocation)
        self.register_endpoint(_Introspection)
        self.register_token_generator("default", self._generate)
        self.register_client_auth_method("client_secret_basic", _authenticate(_basic))
        self.register_client_auth_method("client_secret_post", _authenticate(_post))

    def query_client(self, client_id: str) -> None:
        return None  # clients are looked up before authlib runs (see _Request)

    def save_token(self, token: dict[str, Any], request: object) -> None:
        return None  # the token is a signed JWT: nothing to keep

    def send_signal(self, name: str, *args: object, **kwargs: object) -> None:
        return None

    def create_oauth2_request(self, request: _Request) -> _Request:
        return request  # made from the Starlette request beforehand (see OAuthEndpoints)

    def create_json_request(self, request: object) -> None:
        raise NotImplementedError("no endpoint of this server reads JSON")

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
        """Every failed client authentication is a 401 (RFC 6749 §5.2 allows it, and the
        per-address throttle counts 401s), with the Basic challenge the endpoint accepts."""
        merged = {**dict(headers), **_NO_STORE}
        if isinstance(body, dict) and body.get("error") == "invalid_client":
            status = 401
            body = {
                "error": "invalid_client",
                "error_description": "unknown client or wrong secret",
            }
            merged["WWW-Authenticate"] = f'Basic realm="{REALM}", error="invalid_client"'
        return JSONResponse(body, status, headers=merged)

    def _generate(
        self,
        grant_type: str,
        client: OAuthClient,
        user: object = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = False,
    ) -> dict[str, Any]:
        scopes = scope.split() if scope is not None else client.principal.scopes
        return self._signer.issue(client, scopes)


class OAuthEndpoints:
    """The Starlette handlers of the OAuth endpoints of one gateway process."""

    def __init__(
        self,
        signer: TokenSigner,
        clients: OAuthClients,
        tokens: BearerTokens,
        revoked: RevokedTokens,
        *,
        scopes_supported: frozenset[str],
    ) -> None:
        self.signer = signer
        self._clients = clients
        self._tokens = tokens
        self._revoked = revoked
        self._scopes_supported = scopes_supported
        self._server = _Server(signer)
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="oauth-secrets")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def token(self, request: Request) -> Response:
        prepared = await self._prepare(request, TOKEN_PATH)
        if isinstance(prepared, Response):
            return prepared
        return await self._run(self._server.create_token_response, prepared)

    async def revoke(self, request: Request) -> Response:
        prepared = await self._prepare(request, REVOKE_PATH)
        if isinstance(prepared, Response):
            return prepared
        response = await self._run(
            lambda r: self._server.create_endpoint_response("revocation", r), prepared
        )
        for verified in prepared.revoked:
            await self._revoked.revoke(str(verified.claims["jti"]), int(verified.claims["exp"]))
        return response

    async def introspect(self, request: Request) -> Response:
        prepared = await self._prepare(request, INTROSPECT_PATH)
        if isinstance(prepared, Response):
            return prepared
        return await self._run(
            lambda r: self._server.create_endpoint_response("introspection", r), prepared
        )

    async def jwks(self, _: Request) -> Response:
        return JSONResponse(self.signer.public_jwks())

    async def metadata(self, _: Request) -> Response:
        issuer = self.signer.issuer
        return JSONResponse(
            {
                "issuer": issuer,
                "token_endpoint": issuer + TOKEN_PATH,
                "jwks_uri": issuer + JWKS_PATH,
                "revocation_endpoint": issuer + REVOKE_PATH,
                "introspection_endpoint": issuer + INTROSPECT_PATH,
                "grant_types_supported": ["client_credentials"],
                "response_types_supported": [],
                "scopes_supported": sorted(self._scopes_supported),
                "token_endpoint_auth_methods_supported": AUTH_METHODS,
                "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
                "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
                "access_token_signing_alg_values_supported": [self.signer.algorithm],
            }
        )

    async def _run(self, handle: Callable[[_Request], Response], prepared: _Request) -> Response:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, handle, prepared)

    async def _prepare(self, request: Request, path: str) -> _Request | Response:
        form = await _read_form(request)
        if isinstance(form, Response):
            return form
        client_id = _presented_client_id(request, form)
        if isinstance(client_id, Response):
            return client_id
        client = await self._clients.lookup(client_id) if client_id else None
        token = None
        if path != TOKEN_PATH and form.get("token"):
            token = await self._own_token(form["token"])
        headers = {key.title(): value for key, value in request.headers.items()}
        return _Request(self.signer.issuer + path, headers, form, client, token)

    async def _own_token(self, token: str) -> VerifiedToken | None:
        """The presented token when it is one of ours and still valid; revoking or
        introspecting anything else answers as for an unknown token (RFC 7009, 7662)."""
        verified = await self._tokens.verify(token)
        if not isinstance(verified, VerifiedToken):
            return None
        return verified if verified.claims.get("iss") == self.signer.issuer else None


def oauth_error(status: int, error: str, description: str) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status, _NO_STORE)


async def _read_form(request: Request) -> dict[str, str] | Response:
    """The urlencoded body: bounded, UTF-8, each parameter at most once (RFC 6749 §3.2)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return oauth_error(400, "invalid_request", "send application/x-www-form-urlencoded")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return oauth_error(413, "invalid_request", f"the body exceeds {MAX_FORM_BYTES} bytes")
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=bool(body),
            max_num_fields=MAX_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        return oauth_error(400, "invalid_request", "the body is not a valid form")
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            return oauth_error(400, "invalid_request", f"the {name} parameter is repeated")
        if len(value) > MAX_SECRET_LENGTH * 16:
            return oauth_error(400, "invalid_request", f"the {name} parameter is too long")
        form[name] = value
    return form


def _presented_client_id(request: Request, form: Mapping[str, str]) -> str | Response | None:
    """The client id the request authenticates with: HTTP Basic or the form, never both."""
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "basic":
        if "client_secret" in form:
            return oauth_error(400, "invalid_request", "authenticate with one method only")
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return oauth_error(400, "invalid_request", "the Basic credentials are malformed")
        return unquote(decoded.partition(":")[0]) or None
    client_id = form.get("client_id")
    return client_id or None
