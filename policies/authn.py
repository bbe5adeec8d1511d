"""API-key authentication: keys are stored as SHA-256 digests, never in clear.

Keys are long random strings, so a plain digest is as strong as a slow hash here and keeps the
check to one dictionary look-up per request. The middleware puts the `Principal` in the ASGI
scope's state; routes it does not guard (health, webhooks with their own signatures) pass through.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from policies.principal import Principal

API_KEY_HEADER = b"x-api-key"


def digest_api_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class RegisteredClient:
    client_id: str
    tenant_id: str
    api_key_sha256: str
    scopes: frozenset[str]


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
        return Principal(client.client_id, client.tenant_id, client.scopes)


def presented_api_key(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == API_KEY_HEADER:
            return value.decode("latin-1").strip() or None
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() in {"bearer", "apikey"} and token.strip():
                return token.strip()
    return None


def unauthenticated_body(message: str) -> bytes:
    return orjson.dumps(
        {"errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}]}
    )


def _asks_for_the_ide_page(scope: Scope) -> bool:
    """A browser loading GraphiQL gets the page (no data in it); its queries still need a key."""
    if scope["type"] != "http" or scope["method"] != "GET":
        return False
    if b"query=" in scope.get("query_string", b""):
        return False
    accept = next((value for name, value in scope["headers"] if name == b"accept"), b"")
    return b"text/html" in accept


class ApiKeyAuthentication:
    """ASGI middleware: requests under `protected_prefixes` need a known API key."""

    def __init__(
        self,
        app: ASGIApp,
        registry: ApiKeyRegistry,
        protected_prefixes: tuple[str, ...] = ("/graphql",),
    ) -> None:
        self.app = app
        self.registry = registry
        self.protected_prefixes = protected_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"} or not scope["path"].startswith(
            self.protected_prefixes
        ):
            await self.app(scope, receive, send)
            return
        if _asks_for_the_ide_page(scope):
            await self.app(scope, receive, send)
            return
        api_key = presented_api_key(scope["headers"])
        principal = self.registry.authenticate(api_key) if api_key else None
        if principal is None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 4401})
                return
            message = "invalid API key" if api_key else "an API key is required (X-API-Key header)"
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"www-authenticate", b'Bearer realm="logistics-gateway"'),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": unauthenticated_body(message)})
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)
