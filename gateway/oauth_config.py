"""`[oauth]`, `[oauth_clients.<id>]` and `[api_keys]`: the gateway's own OAuth token endpoint,
the partners it knows, and the API keys issued at run time."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from authlib.common.security import is_secure_transport
from pydantic import BaseModel, ConfigDict, Field, field_validator

from policies.api_keys import MAX_CACHE_S
from policies.oauth_clients import valid_secret_hash
from policies.oauth_tokens import load_signing_key

DEVELOPMENT_OAUTH_KEY = """-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIMLby2KEyHYhBt8T05eVgQlW0PEtHilWr01Xk7gFnc6V
-----END PRIVATE KEY-----
"""
"""Published with the code, so good for one machine only; production sets its own."""


class OAuthConfig(BaseModel):
    """The token endpoint issues JWTs signed with `signing_key` (a private key in PEM:
    Ed25519, P-256 or RSA), with `iss` = `issuer` and `aud` = `audience`, valid
    `token_lifetime_s` seconds. `issuer` is the public https URL, the same on every process
    (production with OAuth clients requires it); unset, it is http://<server.host>:<port>
    (127.0.0.1 for a server listening on every address), good for one machine."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: str | None = None
    audience: str = Field("logistics-gateway", min_length=1, max_length=200)
    signing_key: str = DEVELOPMENT_OAUTH_KEY
    token_lifetime_s: int = Field(900, ge=60, le=86_400)
    leeway_s: int = Field(30, ge=0, le=300)

    @field_validator("signing_key")
    @classmethod
    def _usable_key(cls, value: str) -> str:
        load_signing_key(value)
        return value

    @field_validator("issuer")
    @classmethod
    def _issuer_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("must be an http(s):// URL")
        if parts.scheme == "http" and not is_secure_transport(value):
            raise ValueError("must be an https:// URL (http:// only on loopback, for development)")
        if parts.query or parts.fragment or value.endswith("/"):
            raise ValueError("must have no query, fragment or trailing slash (RFC 8414)")
        return value


class OAuthClientConfig(BaseModel):
    """A partner's OAuth client: the tenant it acts for, the scopes it may ask for, its plan
    and the scrypt hash of its secret (`logistics-gateway keys hash-secret` prints one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant: str = Field(min_length=1, max_length=100)
    secret_hash: str
    scopes: frozenset[str] = frozenset({"read"})
    plan: str = "basic"
    contract: str | None = None
    """An entry of `[contracts]`: the only schema the client's tokens see; unset: the whole
    API."""

    @field_validator("secret_hash")
    @classmethod
    def _scrypt_hash(cls, value: str) -> str:
        if not valid_secret_hash(value):
            raise ValueError("must be a scrypt hash (logistics-gateway keys hash-secret)")
        return value


class ApiKeysConfig(BaseModel):
    """API keys and OAuth clients issued at run time (`logistics-gateway keys`, /admin/keys)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cache_s: float = Field(MAX_CACHE_S, ge=0, le=MAX_CACHE_S)
    """How long a process trusts what it read of a key or a revoked token: a revocation
    made elsewhere holds on this process within this time."""
    default_lifetime_days: int = Field(90, ge=1, le=3650)
    max_lifetime_days: int = Field(365, ge=1, le=3650)


@dataclass(frozen=True, slots=True)
class DemoOAuthClient:
    tenant: str
    secret: str
    secret_hash: str
    scopes: frozenset[str]
    plan: str
    may: str
    contract: str | None = None


DEMO_OAUTH_CLIENTS = {
    "demo-partner-c1002": DemoOAuthClient(
        "C-1002",
        "demo-secret-partner-c1002",
        "scrypt$32768,8,1$ZGVtby1wYXJ0bmVyLWMxMA==$gewUAi7GyALwZcHQmNisrSU/KpfH0PWuiE6+geY2RcQ=",
        frozenset({"read"}),
        "basic",
        "partner acting for C-1002 with OAuth client credentials, reading only "
        "(the partner contract)",
        contract="partner",
    )
}
"""Clear-text secrets exist only for the local demo; production refuses their hashes."""


def default_oauth_clients() -> dict[str, OAuthClientConfig]:
    return {
        name: OAuthClientConfig(
            tenant=client.tenant,
            secret_hash=client.secret_hash,
            scopes=client.scopes,
            plan=client.plan,
            contract=client.contract,
        )
        for name, client in DEMO_OAUTH_CLIENTS.items()
    }
