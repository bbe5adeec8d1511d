"""Bearer tokens (JWT, RFC 7519) from the issuers the gateway trusts, turned into principals.

Two kinds of issuer use this one path: an identity provider of portals and apps (its keys at a
configured JWKS URL) and the gateway's own OAuth token endpoint (its keys in memory, plus a
check that the token was not revoked and its client still exists). Which issuer a token claims
to come from (`iss`) only selects the keys and rules; the signature must then verify with that
issuer's keys, and every claim is checked against that issuer's settings.

A signature, once verified, is trusted again for `SIGNATURE_KEPT_S` (a bounded memory by the
token's digest): a client presents the same token on every request, and checking its signature
costs more than the rest of authentication. Everything that can change between two requests is
still checked on each: expiry and not-before against the clock, and the issuer's further check
(revocation, the client still existing). A key the issuer withdraws stops being accepted within
that time.

Only asymmetric algorithms are accepted (RS256, ES256, EdDSA), each with a key of its own type:
`alg: none` and an HS256 token "signed" with a public key never verify. Every refusal says
what was wrong in words a client can act on (the `error_description` of RFC 6750's
`invalid_token`), never which keys or clients exist.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import time
import warnings
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from authlib.deprecate import AuthlibDeprecationWarning

with warnings.catch_warnings():
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.jose import JsonWebToken, JWTClaims
    from authlib.jose.errors import (
        BadSignatureError,
        ExpiredTokenError,
        InvalidClaimError,
        InvalidTokenError,
        JoseError,
        MissingClaimError,
    )

from policies.jwks import KEY_TYPES, KeySource
from policies.principal import DEFAULT_PLAN, Principal

ALGORITHMS = frozenset(KEY_TYPES)
"""The signature algorithms a bearer token may use."""
MAX_TOKEN_BYTES = 8192
MAX_CLAIM_LENGTH = 200
MAX_SCOPES = 100
SIGNATURES_KEPT = 4096
"""Verified tokens remembered (a digest, the claims and the principal each: a few MB at most)."""
SIGNATURE_KEPT_S = 60.0
_JWT_SHAPE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
_WAREHOUSE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def looks_like_jwt(credential: str) -> bool:
    """Three dot-separated base64url parts: validated as a token, anything else is a key."""
    return _JWT_SHAPE.fullmatch(credential) is not None


@dataclass(frozen=True, slots=True)
class ClaimMapping:
    """Which claims name the client, its tenant, its scopes, plan and warehouses."""

    client_id: str = "sub"
    tenant: str = "tenant"
    scopes: tuple[str, ...] = ("scope", "scp")
    """The first present is read: a space-separated string (`scope`) or a list (`scp`)."""
    plan: str = "plan"
    warehouses: str = "warehouses"


@dataclass(frozen=True, slots=True)
class TokenRejected:
    """Why a token is refused: RFC 6750's `error_description` of `invalid_token`."""

    description: str


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    principal: Principal
    claims: Mapping[str, Any]
    expires_at: float | None = None
    """When the token stops being accepted: its `exp` plus its issuer's leeway."""


TokenCheck = Callable[[Mapping[str, Any]], Awaitable[str | None]]
"""A further check of a verified token's claims: None to accept, else the refusal's words."""


@dataclass(frozen=True, slots=True)
class TrustedIssuer:
    issuer: str
    audience: str
    keys: KeySource
    algorithms: frozenset[str] = ALGORITHMS
    claims: ClaimMapping = field(default_factory=ClaimMapping)
    leeway_s: int = 30
    default_plan: str = DEFAULT_PLAN
    check: TokenCheck | None = None


@dataclass(frozen=True, slots=True)
class _Verified:
    """A token whose signature and claims verified: what a later request with it reuses."""

    issuer: TrustedIssuer
    claims: JWTClaims
    principal: Principal
    verified_at: float


class BearerTokens:
    """Verifies tokens of the trusted issuers; one instance serves the whole process."""

    def __init__(
        self,
        issuers: Iterable[TrustedIssuer],
        *,
        plans: Iterable[str],
        max_token_bytes: int = MAX_TOKEN_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._issuers = {issuer.issuer: issuer for issuer in issuers}
        self._plans = frozenset(plans)
        self._max_token_bytes = max_token_bytes
        self._clock = clock
        self._verified: OrderedDict[bytes, _Verified] = OrderedDict()

    async def verify(self, token: str) -> VerifiedToken | TokenRejected:
        if len(token) > self._max_token_bytes:
            return TokenRejected(f"the token is longer than {self._max_token_bytes} bytes")
        digest = hashlib.sha256(token.encode()).digest()
        kept = self._verified.get(digest)
        if kept is not None and self._clock() - kept.verified_at < SIGNATURE_KEPT_S:
            self._verified.move_to_end(digest)
            problem = self._time_problem(kept.claims, kept.issuer)
            if problem is not None:
                return TokenRejected(problem)
            return await self._accepted(kept)
        verified = await self._verify_signed(token)  # the time claims are checked there
        if isinstance(verified, TokenRejected):
            return verified
        self._verified[digest] = verified
        self._verified.move_to_end(digest)
        if len(self._verified) > SIGNATURES_KEPT:
            self._verified.popitem(last=False)
        return await self._accepted(verified)

    async def _accepted(self, verified: _Verified) -> VerifiedToken | TokenRejected:
        """The issuer's own check (revocation, the client still existing), on every request;
        the time claims have been checked against the clock just before."""
        issuer, claims, principal = verified.issuer, verified.claims, verified.principal
        if issuer.check is not None and (problem := await issuer.check(claims)) is not None:
            return TokenRejected(problem)
        return VerifiedToken(principal, dict(claims), float(claims["exp"] + issuer.leeway_s))

    async def _verify_signed(self, token: str) -> _Verified | TokenRejected:
        """Signature, issuer, audience and the principal the claims map to."""
        parts = _unverified_parts(token)
        if parts is None:
            return TokenRejected("the token is malformed")
        header, payload = parts
        issuer = self._issuers.get(payload.get("iss"))  # type: ignore[arg-type]
        if issuer is None:
            return TokenRejected("the token's issuer is not trusted")
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in issuer.algorithms:
            return TokenRejected("the token's signing algorithm is not accepted")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            return TokenRejected("the token is malformed")
        key = await issuer.keys.key_for(kid, algorithm)
        if key is None:
            return TokenRejected("the token's signing key is unknown")
        options = {
            "iss": {"essential": True, "value": issuer.issuer},
            "aud": {"essential": True, "value": issuer.audience},
            "exp": {"essential": True},
        }
        try:
            claims = JsonWebToken([algorithm]).decode(token, key, claims_options=options)
        except BadSignatureError:
            return TokenRejected("the token's signature is invalid")
        except (JoseError, ValueError, TypeError):
            return TokenRejected("the token is malformed")
        problem = self._time_problem(claims, issuer)
        if problem is not None:
            return TokenRejected(problem)
        principal = self._principal(dict(claims), issuer)
        if isinstance(principal, TokenRejected):
            return principal
        return _Verified(issuer, claims, principal, self._clock())

    def _time_problem(self, claims: JWTClaims, issuer: TrustedIssuer) -> str | None:
        """The claims checked against the clock (and issuer and audience again): None when
        they hold, else the refusal's words."""
        try:
            claims.validate(now=int(self._clock()), leeway=issuer.leeway_s)
        except ExpiredTokenError:
            return "the token has expired"
        except InvalidTokenError as error:
            issued_later = "future" in (error.description or "")
            return (
                "the token was issued in the future"
                if issued_later
                else "the token is not valid yet"
            )
        except (InvalidClaimError, MissingClaimError) as error:
            return _claim_problem(error)
        except (JoseError, ValueError, TypeError):
            return "the token is malformed"
        return None

    def _principal(
        self, claims: dict[str, Any], issuer: TrustedIssuer
    ) -> Principal | TokenRejected:
        mapping = issuer.claims
        client_id = claims.get(mapping.client_id)
        tenant = claims.get(mapping.tenant)
        for name, value in ((mapping.client_id, client_id), (mapping.tenant, tenant)):
            if not isinstance(value, str) or not value or len(value) > MAX_CLAIM_LENGTH:
                return TokenRejected(f"the token has no usable '{name}' claim")
        scopes = _scopes(claims, mapping.scopes)
        if scopes is None:
            return TokenRejected("the token's scopes are not a string or a list of strings")
        plan = claims.get(mapping.plan, issuer.default_plan)
        if plan not in self._plans:
            return TokenRejected("the token names an unknown plan")
        warehouses = claims.get(mapping.warehouses, [])
        if (
            not isinstance(warehouses, list)
            or not all(
                isinstance(w, str) and _WAREHOUSE.fullmatch(w) for w in warehouses[: MAX_SCOPES + 1]
            )
            or len(warehouses) > MAX_SCOPES
        ):
            return TokenRejected(f"the token's '{mapping.warehouses}' claim is not a list of ids")
        return Principal(client_id, tenant, scopes, frozenset(warehouses), plan)  # type: ignore[arg-type]


def _scopes(claims: Mapping[str, Any], names: tuple[str, ...]) -> frozenset[str] | None:
    for name in names:
        if name not in claims:
            continue
        value = claims[name]
        if isinstance(value, str):
            scopes = value.split()
        elif isinstance(value, list) and all(isinstance(scope, str) for scope in value):
            scopes = value
        else:
            return None
        if len(scopes) > MAX_SCOPES or any(len(scope) > MAX_CLAIM_LENGTH for scope in scopes):
            return None
        return frozenset(scopes)
    return frozenset()


_CLAIM_PROBLEMS = {
    "aud": "the token is for another audience",
    "iss": "the token is from another issuer",
    "exp": "the token has no valid expiry",
    "nbf": "the token's not-before time is invalid",
    "iat": "the token's issue time is invalid",
}


def _claim_problem(error: InvalidClaimError | MissingClaimError) -> str:
    claim = (error.description or "").split("'")[1:2]
    name = claim[0] if claim else ""
    if isinstance(error, MissingClaimError):
        return f"the token has no '{name}' claim" if name else "the token misses a claim"
    return _CLAIM_PROBLEMS.get(name, "the token has an invalid claim")


def _unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Header and payload, read without verifying anything: only to choose issuer and key."""
    if not looks_like_jwt(token):
        return None
    encoded_header, encoded_payload, _ = token.split(".")
    try:
        header = orjson.loads(_b64decode(encoded_header))
        payload = orjson.loads(_b64decode(encoded_payload))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        return None
    return header, payload


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
