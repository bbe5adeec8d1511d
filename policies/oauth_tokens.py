"""Access tokens the gateway issues to OAuth clients: signed JWTs (RFC 9068 profile) that the
gateway verifies like any other bearer token, plus what only its own tokens can be asked.

The signing key is a private key in PEM (Ed25519, P-256 or RSA; the algorithm follows from
it: EdDSA, ES256, RS256); its public half is published as a JWKS. A token carries the client
(`client_id`, and `sub`: the name its principal acts under), the tenant, the granted scopes,
the plan and a `jti`. Verifying one of these also asks whether that `jti` was revoked
(RFC 7009) and whether its client still exists and is active, so revoking a token or a client
stops its tokens before they expire, on every process sharing the database within the
revocation cache's few seconds.
"""

from __future__ import annotations

import secrets
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from authlib.deprecate import AuthlibDeprecationWarning

with warnings.catch_warnings():
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.jose import JsonWebKey, JsonWebToken
    from authlib.jose.errors import JoseError
    from authlib.jose.rfc7517 import Key

from policies.api_keys import MAX_CACHE_S, MAX_CACHED
from policies.bearer_tokens import ClaimMapping, TrustedIssuer
from policies.jwks import LocalKeySet
from policies.oauth_clients import OAuthClient, OAuthClients
from stores.revoked_tokens import RevokedTokenStore

TOKEN_TYPE = "at+jwt"
"""The JWT `typ` of OAuth access tokens (RFC 9068)."""


def load_signing_key(pem: str) -> tuple[Key, str]:
    """The private key and its algorithm; `ValueError` names what is wrong."""
    try:
        key = JsonWebKey.import_key(pem)
    except (JoseError, ValueError, TypeError):
        raise ValueError("must be a private key in PEM (Ed25519, P-256 or RSA)") from None
    public = key.as_dict(is_private=False)
    kty, curve = public.get("kty"), public.get("crv")
    if getattr(key, "private_key", None) is None:
        raise ValueError("must be the private key, not the public one")
    if kty == "OKP" and curve == "Ed25519":
        return key, "EdDSA"
    if kty == "EC" and curve == "P-256":
        return key, "ES256"
    if kty == "RSA":
        if key.public_key.key_size < 2048:
            raise ValueError("an RSA key must have at least 2048 bits")
        return key, "RS256"
    raise ValueError("must be an Ed25519, P-256 or RSA private key")


class TokenSigner:
    """Issues the gateway's access tokens and publishes the key that verifies them."""

    def __init__(
        self,
        pem: str,
        *,
        issuer: str,
        audience: str,
        lifetime_s: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key, self.algorithm = load_signing_key(pem)
        self.kid = self._key.thumbprint()
        self.issuer = issuer
        self.audience = audience
        self.lifetime_s = lifetime_s
        self._clock = clock
        self._jwt = JsonWebToken([self.algorithm])

    def issue(self, client: OAuthClient, scopes: Iterable[str]) -> dict[str, Any]:
        """The token response (RFC 6749 §5.1) for `client` granted `scopes`."""
        principal = client.principal
        granted = " ".join(sorted(scopes))
        issued = int(self._clock())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": principal.client_id,
            "client_id": client.client_id,
            "tenant": principal.tenant_id,
            "scope": granted,
            "plan": principal.plan,
            "iat": issued,
            "exp": issued + self.lifetime_s,
            "jti": secrets.token_urlsafe(16),
        }
        if principal.warehouses:
            claims["warehouses"] = sorted(principal.warehouses)
        header = {"alg": self.algorithm, "kid": self.kid, "typ": TOKEN_TYPE}
        token = self._jwt.encode(header, claims, self._key, check=False).decode()
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.lifetime_s,
            "scope": granted,
        }

    def public_jwks(self) -> dict[str, Any]:
        public = self._key.as_dict(is_private=False)
        public.update({"kid": self.kid, "alg": self.algorithm, "use": "sig"})
        return {"keys": [public]}


class RevokedTokens:
    """The revoked `jti`s, read through a short per-process cache (see `policies.api_keys`)."""

    def __init__(
        self,
        store: RevokedTokenStore,
        *,
        cache_s: float = MAX_CACHE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 <= cache_s <= MAX_CACHE_S:
            raise ValueError(f"cache_s must be between 0 and {MAX_CACHE_S}")
        self._store = store
        self._cache_s = cache_s
        self._clock = clock
        self._cached: dict[str, tuple[bool, float]] = {}

    async def is_revoked(self, jti: str) -> bool:
        now = self._clock()
        cached = self._cached.get(jti)
        if cached is not None and (cached[0] or now - cached[1] < self._cache_s):
            return cached[0]
        revoked = await self._store.is_revoked(jti)
        self._remember(jti, revoked, now)
        return revoked

    async def revoke(self, jti: str, expires_at: int) -> None:
        await self._store.revoke(jti, datetime.fromtimestamp(expires_at, UTC))
        self._remember(jti, True, self._clock())

    def _remember(self, jti: str, revoked: bool, now: float) -> None:
        if self._cache_s <= 0 and not revoked:
            return
        if len(self._cached) >= MAX_CACHED:
            self._cached = {k: v for k, v in self._cached.items() if now - v[1] < self._cache_s}
            if len(self._cached) >= MAX_CACHED:
                self._cached.clear()
        self._cached[jti] = (revoked, now)


def own_issuer(
    signer: TokenSigner,
    clients: OAuthClients,
    revoked: RevokedTokens,
    *,
    leeway_s: int,
) -> TrustedIssuer:
    """The gateway's own tokens as a trusted issuer of the one bearer-token path."""

    async def still_valid(claims: Mapping[str, Any]) -> str | None:
        jti, client_id = claims.get("jti"), claims.get("client_id")
        if not isinstance(jti, str) or not jti or not isinstance(client_id, str):
            return "the token has no 'jti' or 'client_id' claim"
        if await revoked.is_revoked(jti):
            return "the token has been revoked"
        return await clients.inactive(client_id)

    return TrustedIssuer(
        issuer=signer.issuer,
        audience=signer.audience,
        keys=LocalKeySet(signer.public_jwks()),
        algorithms=frozenset({signer.algorithm}),
        claims=ClaimMapping(scopes=("scope",)),
        leeway_s=leeway_s,
        check=still_valid,
    )
