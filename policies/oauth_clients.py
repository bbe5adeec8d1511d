"""The OAuth clients the token endpoint knows: configured ones and ones issued at run time.

A configured client (`[oauth_clients.<id>]`) has a secret someone chose and wrote down, so its
hash is slow (scrypt, stdlib): a leaked configuration does not give away guessable secrets.
Checking it costs tens of milliseconds, which is why the token endpoint checks secrets off the
event loop. A client issued at run time (`logistics-gateway keys create --oauth`, or the admin
API) has a 32-byte random secret and a SHA-256 digest, like API keys (`policies.api_keys`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from authlib.oauth2.rfc6749 import ClientMixin

from policies.api_keys import StoredCredentials, oauth_client_key_id, principal_of, secret_digest
from policies.principal import Principal

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
_SCRYPT_MAX_MEMORY = 64 * 1024 * 1024
_HASH = re.compile(r"^scrypt\$(\d+),(\d+),(\d+)\$([A-Za-z0-9+/=]{16,})\$([A-Za-z0-9+/=]{43,})$")
MAX_SECRET_LENGTH = 512


def hash_secret(secret: str, *, salt: bytes | None = None) -> str:
    """`scrypt$N,r,p$salt$hash` (base64), for `[oauth_clients.<id>] secret_hash`."""
    salt = salt or secrets.token_bytes(16)
    derived = _scrypt(secret, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    salt_text, hash_text = (base64.b64encode(part).decode() for part in (salt, derived))
    return f"scrypt${SCRYPT_N},{SCRYPT_R},{SCRYPT_P}${salt_text}${hash_text}"


def valid_secret_hash(value: str) -> bool:
    match = _HASH.fullmatch(value)
    if match is None:
        return False
    n, r, p = (int(match.group(i)) for i in (1, 2, 3))
    return 2**14 <= n <= 2**20 and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16


def secret_matches(secret: str, secret_hash: str) -> bool:
    match = _HASH.fullmatch(secret_hash)
    if match is None or len(secret) > MAX_SECRET_LENGTH:
        return False
    n, r, p = (int(match.group(i)) for i in (1, 2, 3))
    salt, expected = base64.b64decode(match.group(4)), base64.b64decode(match.group(5))
    return hmac.compare_digest(_scrypt(secret, salt, n, r, p), expected)


def _scrypt(secret: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        secret.encode(), salt=salt, n=n, r=r, p=p, maxmem=_SCRYPT_MAX_MEMORY, dklen=32
    )


@dataclass(frozen=True, slots=True)
class ConfiguredOAuthClient:
    client_id: str
    tenant: str
    secret_hash: str
    scopes: frozenset[str]
    plan: str
    warehouses: frozenset[str] = frozenset()


class OAuthClient(ClientMixin):
    """A client as authlib's authorization server asks about it: confidential, client
    credentials grant only, authenticated with its secret (HTTP Basic or in the form)."""

    def __init__(self, client_id: str, principal: Principal, secret_hash: str, slow: bool) -> None:
        self.client_id = client_id
        self.principal = principal
        """Who its tokens act for, with every scope it may ask for."""
        self._secret_hash = secret_hash
        self._slow = slow

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(sorted(set(scope.split()) & self.principal.scopes))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        if self._slow:
            return secret_matches(client_secret, self._secret_hash)
        return hmac.compare_digest(self._secret_hash, secret_digest(client_secret))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


class OAuthClients:
    """Finds a client by its id, configured first, then issued; says whether one still is."""

    def __init__(
        self, configured: Mapping[str, ConfiguredOAuthClient], stored: StoredCredentials
    ) -> None:
        self._configured = dict(configured)
        self._stored = stored

    async def lookup(self, client_id: str) -> OAuthClient | None:
        """The client, when it exists and is active; its secret is not checked here."""
        configured = self._configured.get(client_id)
        if configured is not None:
            principal = Principal(
                configured.client_id,
                configured.tenant,
                configured.scopes,
                configured.warehouses,
                configured.plan,
            )
            return OAuthClient(client_id, principal, configured.secret_hash, slow=True)
        key_id = oauth_client_key_id(client_id)
        if key_id is None:
            return None
        credential = await self._stored.active(key_id)
        if isinstance(credential, str) or credential.kind != "oauth_client":
            return None
        return OAuthClient(
            client_id, principal_of(credential), credential.secret_sha256, slow=False
        )

    async def inactive(self, client_id: str) -> str | None:
        """None while the client may use its tokens, else why it may not."""
        if client_id in self._configured:
            return None
        key_id = oauth_client_key_id(client_id)
        if key_id is None:
            return "the client no longer exists"
        credential = await self._stored.active(key_id)
        if isinstance(credential, str):
            return credential
        return None if credential.kind == "oauth_client" else "the client no longer exists"
