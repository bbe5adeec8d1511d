"""A verified token's signature is remembered for a while; what can change between two
requests (the clock, revocation) is checked on every one."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from policies.bearer_tokens import (
    SIGNATURE_KEPT_S,
    SIGNATURES_KEPT,
    BearerTokens,
    TokenRejected,
    TrustedIssuer,
    VerifiedToken,
)
from policies.jwks import LocalKeySet
from tests.security.token_issuer import AUDIENCE, ISSUER, claims, new_key, sign

KEY = new_key("ES256", "key-memory")


class CountingKeys:
    """The issuer's real key set, counting how often a key is looked up (once per signature
    verified)."""

    def __init__(self) -> None:
        self.keys = LocalKeySet({"keys": [KEY.public()]})
        self.lookups = 0

    async def key_for(self, kid: str | None, algorithm: str) -> Any:
        self.lookups += 1
        return await self.keys.key_for(kid, algorithm)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def tokens(clock: Clock, keys: CountingKeys, revoked: set[str] | None = None) -> BearerTokens:
    async def not_revoked(token_claims: Mapping[str, Any]) -> str | None:
        return "the token has been revoked" if token_claims.get("jti") in (revoked or ()) else None

    issuer = TrustedIssuer(ISSUER, AUDIENCE, keys, leeway_s=0, check=not_revoked)
    return BearerTokens([issuer], plans=["standard"], clock=clock)


def verify(bearer: BearerTokens, token: str) -> VerifiedToken | TokenRejected:
    return asyncio.run(bearer.verify(token))


def test_a_token_presented_again_is_not_verified_again_within_the_memory():
    keys, clock = CountingKeys(), Clock(1_800_000_000)
    bearer = tokens(clock, keys)
    token = sign(KEY, claims(iat=int(clock.now), exp=int(clock.now) + 3600))
    first, second = verify(bearer, token), verify(bearer, token)
    assert isinstance(first, VerifiedToken) and isinstance(second, VerifiedToken)
    assert first.principal == second.principal and keys.lookups == 1
    clock.now += SIGNATURE_KEPT_S + 1
    assert isinstance(verify(bearer, token), VerifiedToken)
    assert keys.lookups == 2, "verified again once the memory of it is over"


def test_a_remembered_token_still_expires_and_can_still_be_revoked():
    keys, clock, revoked = CountingKeys(), Clock(1_800_000_000), set()
    bearer = tokens(clock, keys, revoked)
    now = int(clock.now)
    token = sign(KEY, claims(iat=now, exp=now + 10, jti="token-1"))
    assert isinstance(verify(bearer, token), VerifiedToken)
    revoked.add("token-1")
    assert verify(bearer, token) == TokenRejected("the token has been revoked")
    revoked.clear()
    clock.now += 11
    assert verify(bearer, token) == TokenRejected("the token has expired")


def test_a_token_not_valid_yet_is_refused_until_it_is_then_remembered():
    keys, clock = CountingKeys(), Clock(1_800_000_000)
    bearer = tokens(clock, keys)
    now = int(clock.now)
    token = sign(KEY, claims(iat=now, nbf=now + 5, exp=now + 60))
    assert verify(bearer, token) == TokenRejected("the token is not valid yet")
    clock.now += 6
    assert isinstance(verify(bearer, token), VerifiedToken)
    assert isinstance(verify(bearer, token), VerifiedToken)
    assert keys.lookups == 2, "a refused token is not remembered"


def test_a_changed_token_is_verified_on_its_own():
    keys, clock = CountingKeys(), Clock(1_800_000_000)
    bearer = tokens(clock, keys)
    token = sign(KEY, claims(iat=int(clock.now), exp=int(clock.now) + 60))
    assert isinstance(verify(bearer, token), VerifiedToken)
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"
    assert verify(bearer, forged) == TokenRejected("the token's signature is invalid")


def test_the_memory_is_bounded():
    keys, clock = CountingKeys(), Clock(1_800_000_000)
    bearer = tokens(clock, keys)
    now = int(clock.now)
    first = sign(KEY, claims(iat=now, exp=now + 60, jti="first"))
    verify(bearer, first)

    async def many() -> None:
        for number in range(SIGNATURES_KEPT):
            await bearer.verify(sign(KEY, claims(iat=now, exp=now + 60, jti=f"t-{number}")))

    asyncio.run(many())
    lookups = keys.lookups
    assert isinstance(verify(bearer, first), VerifiedToken)
    assert keys.lookups == lookups + 1, "the oldest was forgotten"
