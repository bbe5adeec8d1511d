"""The verified caller, as a short-lived signed token for the services behind the gateway.

A subgraph must not see the caller's credential (a partner-run one could replay it), yet it
needs to know who asks: the client, its tenant and its scopes. The gateway says so in a JWT
(RFC 7519) it signs, whose audience is the one subgraph it is sent to and which expires in
about a minute. A subgraph checks it with ``verify_identity``: with the shared secret for
HS256, or with the gateway's public keys (``public_keys``, served as a JWKS) for EdDSA.

One token is made per caller and subgraph and reused until half its lifetime is gone, so
concurrent identical requests of one caller carry identical headers and may still share one
subgraph call, while two callers never do.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from authlib.deprecate import AuthlibDeprecationWarning

with warnings.catch_warnings():
    # authlib points new code at joserfc; its jose module stays supported up to authlib 2.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.jose import JsonWebKey, JsonWebToken, OKPKey
    from authlib.jose.errors import JoseError

from policies.principal import Principal

Algorithm = Literal["HS256", "EdDSA"]
DEFAULT_ISSUER = "logistics-gateway"
MAX_CACHED_TOKENS = 10_000
"""Bound on remembered tokens; expired ones are dropped first when it is reached."""


class InvalidIdentity(ValueError):
    """The token is not a valid identity from the gateway for this subgraph (or it expired)."""


@dataclass(frozen=True, slots=True)
class VerifiedIdentity:
    client_id: str
    tenant_id: str
    scopes: frozenset[str]
    expires_at: int


def signing_key(algorithm: Algorithm, key: str) -> Any:
    """The key object for ``algorithm``: the HS256 secret, or an Ed25519 private key in PEM.

    Raises ``ValueError`` naming the problem, so configuration can refuse it at start-up.
    """
    if algorithm == "HS256":
        if len(key) < 32:
            raise ValueError("an HS256 key must be at least 32 characters")
        return key.encode()
    try:
        imported = JsonWebKey.import_key(key, {"kty": "OKP"})
    except (JoseError, ValueError, TypeError):
        raise ValueError("an EdDSA key must be an Ed25519 private key in PEM") from None
    if not isinstance(imported, OKPKey) or imported.as_dict().get("crv") != "Ed25519":
        raise ValueError("an EdDSA key must be an Ed25519 private key in PEM")
    if imported.private_key is None:
        raise ValueError("an EdDSA key must be the private key, not the public one")
    return imported


class IdentityTokens:
    """Mints the identity tokens of one gateway; remembers them per caller and subgraph."""

    def __init__(
        self,
        algorithm: Algorithm,
        key: str,
        *,
        header: str = "x-gateway-identity",
        issuer: str = DEFAULT_ISSUER,
        lifetime_s: int = 60,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.algorithm = algorithm
        self.header = header
        self.issuer = issuer
        self.lifetime_s = lifetime_s
        self._key = signing_key(algorithm, key)
        self._jwt = JsonWebToken([algorithm])
        self._clock = clock
        self._tokens: dict[tuple[Principal, str], tuple[str, float]] = {}

    def headers_for(self, principal: Principal) -> Callable[[str], tuple[tuple[str, str], ...]]:
        """What a request of ``principal`` sends to a subgraph, by subgraph name."""

        def headers(subgraph: str) -> tuple[tuple[str, str], ...]:
            return ((self.header, self.token(principal, subgraph)),)

        return headers

    def token(self, principal: Principal, subgraph: str) -> str:
        now = self._clock()
        cached = self._tokens.get((principal, subgraph))
        if cached is not None and cached[1] - now > self.lifetime_s / 2:
            return cached[0]
        issued = int(now)
        expires = issued + self.lifetime_s
        claims = {
            "iss": self.issuer,
            "aud": subgraph,
            "sub": principal.client_id,
            "tenant": principal.tenant_id,
            "scope": " ".join(sorted(principal.scopes)),
            "iat": issued,
            "exp": expires,
        }
        header: dict[str, Any] = {"alg": self.algorithm, "typ": "JWT"}
        if self.algorithm == "EdDSA":
            header["kid"] = self._key.thumbprint()
        token = self._jwt.encode(header, claims, self._key).decode()
        self._remember((principal, subgraph), token, float(expires))
        return token

    def public_keys(self) -> dict[str, Any]:
        """The JWKS a subgraph verifies EdDSA tokens with; empty for a shared HS256 secret."""
        if self.algorithm != "EdDSA":
            return {"keys": []}
        public = self._key.as_dict(is_private=False)
        public.update({"kid": self._key.thumbprint(), "alg": "EdDSA", "use": "sig"})
        return {"keys": [public]}

    def _remember(self, key: tuple[Principal, str], token: str, expires: float) -> None:
        if len(self._tokens) >= MAX_CACHED_TOKENS:
            now = self._clock()
            self._tokens = {k: v for k, v in self._tokens.items() if v[1] > now}
            if len(self._tokens) >= MAX_CACHED_TOKENS:
                self._tokens.clear()
        self._tokens[key] = (token, expires)


def verify_identity(
    token: str,
    key: str | bytes | Mapping[str, Any],
    *,
    audience: str,
    issuer: str = DEFAULT_ISSUER,
    now: float | None = None,
    leeway_s: int = 5,
) -> VerifiedIdentity:
    """What a subgraph calls on the identity header it receives.

    ``key`` is the shared HS256 secret, or the gateway's JWKS (``{"keys": [...]}``) or one
    public JWK for EdDSA; the algorithm follows from the key, so a token cannot choose it.
    ``audience`` is the subgraph's own name. Raises ``InvalidIdentity`` on any mismatch.
    """
    if isinstance(key, str | bytes):
        algorithm, verifier = "HS256", key.encode() if isinstance(key, str) else key
    else:
        algorithm = "EdDSA"
        verifier = (
            JsonWebKey.import_key_set(dict(key)) if "keys" in key else JsonWebKey.import_key(key)
        )
    options = {
        "iss": {"essential": True, "value": issuer},
        "aud": {"essential": True, "value": audience},
        "sub": {"essential": True},
        "tenant": {"essential": True},
        "exp": {"essential": True},
    }
    try:
        claims = JsonWebToken([algorithm]).decode(token, verifier, claims_options=options)
        claims.validate(now=int(now if now is not None else time.time()), leeway=leeway_s)
    except (JoseError, ValueError, TypeError) as error:
        raise InvalidIdentity(str(error)) from None
    scope = claims.get("scope") or ""
    return VerifiedIdentity(
        client_id=str(claims["sub"]),
        tenant_id=str(claims["tenant"]),
        scopes=frozenset(str(scope).split()),
        expires_at=int(claims["exp"]),
    )
