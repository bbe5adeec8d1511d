"""Key sets that verify bearer tokens: an identity provider's JWKS fetched over HTTP, or the
gateway's own keys held in memory.

An identity provider rotates its keys by publishing a new one beside the old and then signing
with it, so a token may name a key (`kid`) the gateway has not seen yet: the remote set is
fetched again then. Anyone can send tokens naming random keys, so that refetch happens at most
once per `refetch_interval_s` whatever the traffic, and concurrent requests share one fetch;
a token naming a key still unknown after that is refused. The set is also refreshed when it is
older than `max_age_s`, so a key the provider withdrew stops verifying within that time. A
failed fetch keeps the keys already known (a provider's short outage does not log everyone
out) and is logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import httpx
import orjson
from authlib.deprecate import AuthlibDeprecationWarning

with warnings.catch_warnings():
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.jose import JsonWebKey
    from authlib.jose.errors import JoseError
    from authlib.jose.rfc7517 import Key

_logger = logging.getLogger("policies.jwks")

MAX_JWKS_BYTES = 256 * 1024
"""A key set larger than this is refused: real ones hold a handful of keys."""
MAX_KEYS = 100

KEY_TYPES = {"RS256": "RSA", "ES256": "EC", "EdDSA": "OKP"}
"""The key type each accepted algorithm needs; a key of another type never verifies it."""
CURVES = {"ES256": "P-256", "EdDSA": "Ed25519"}


class KeySource(Protocol):
    async def key_for(self, kid: str | None, algorithm: str) -> Key | None:
        """The verification key named `kid` that fits `algorithm`, or None."""
        ...


def usable_keys(jwks: Mapping[str, Any]) -> dict[str | None, list[Key]]:
    """The signature keys of a JWKS document by kid; keys that cannot be read are skipped."""
    entries = jwks.get("keys")
    if not isinstance(entries, list):
        raise ValueError("a JWKS document has a 'keys' list")
    keys: dict[str | None, list[Key]] = {}
    for entry in entries[:MAX_KEYS]:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        try:
            key = JsonWebKey.import_key(entry)
        except (JoseError, ValueError, TypeError, KeyError):
            continue
        kid = entry.get("kid")
        keys.setdefault(kid if isinstance(kid, str) else None, []).append(key)
    return keys


def fitting_key(candidates: list[Key], algorithm: str) -> Key | None:
    """The first candidate of the key type (and curve) `algorithm` needs, whose own `alg`,
    when it states one, is `algorithm`: a token cannot make an RSA key verify an HMAC."""
    for key in candidates:
        public = key.as_dict(is_private=False)
        if public.get("kty") != KEY_TYPES.get(algorithm):
            continue
        if algorithm in CURVES and public.get("crv") != CURVES[algorithm]:
            continue
        if public.get("alg", algorithm) != algorithm:
            continue
        return key
    return None


def _choose(keys: dict[str | None, list[Key]], kid: str | None, algorithm: str) -> Key | None:
    if kid is not None:
        return fitting_key(keys.get(kid, []), algorithm)
    fitting = [key for group in keys.values() for key in group if fitting_key([key], algorithm)]
    return fitting[0] if len(fitting) == 1 else None


class LocalKeySet:
    """Keys the gateway holds itself (its own token signing key's public half)."""

    def __init__(self, jwks: Mapping[str, Any]) -> None:
        self._keys = usable_keys(jwks)

    async def key_for(self, kid: str | None, algorithm: str) -> Key | None:
        return _choose(self._keys, kid, algorithm)


class RemoteKeySet:
    """An identity provider's JWKS, fetched with `http`, cached, refreshed as described above."""

    def __init__(
        self,
        url: str,
        http: httpx.AsyncClient,
        *,
        max_age_s: float = 600.0,
        refetch_interval_s: float = 30.0,
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._http = http
        self._max_age_s = max_age_s
        self._refetch_interval_s = refetch_interval_s
        self._timeout_s = timeout_s
        self._clock = clock
        self._keys: dict[str | None, list[Key]] = {}
        self._fetched_at: float | None = None
        """When a fetch was last tried (successful or not)."""
        self._loaded_at: float | None = None
        """When the keys held were fetched."""
        self._lock = asyncio.Lock()
        self.fetches = 0
        """Fetches tried so far (for the operations view and tests)."""

    async def key_for(self, kid: str | None, algorithm: str) -> Key | None:
        now = self._clock()
        if self._loaded_at is None or now - self._loaded_at > self._max_age_s:
            await self._refresh(since=now - self._refetch_interval_s)
        key = _choose(self._keys, kid, algorithm)
        if key is None:
            await self._refresh(since=self._clock() - self._refetch_interval_s)
            key = _choose(self._keys, kid, algorithm)
        return key

    async def refresh(self) -> bool:
        """Fetch now (at start-up, to have the keys before the first token); True when the
        key set was read."""
        await self._refresh(since=None)
        return self._loaded_at is not None

    async def _refresh(self, since: float | None) -> None:
        """Fetch unless a fetch was tried after `since` (None: fetch anyway); one at a time,
        so requests waiting here share the fetch that was running when they arrived."""
        async with self._lock:
            if since is not None and self._fetched_at is not None and self._fetched_at > since:
                return
            self._fetched_at = self._clock()
            self.fetches += 1
            try:
                keys = await self._fetch()
            except (httpx.HTTPError, ValueError) as error:
                _logger.warning("fetching the JWKS at %s failed: %s", self.url, error)
                return
            self._keys = keys
            self._loaded_at = self._clock()

    async def _fetch(self) -> dict[str | None, list[Key]]:
        async with self._http.stream("GET", self.url, timeout=self._timeout_s) as response:
            if response.status_code != 200:
                raise ValueError(f"the JWKS URL answered {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise ValueError(f"the JWKS is larger than {MAX_JWKS_BYTES} bytes")
        try:
            document = orjson.loads(bytes(body))
        except orjson.JSONDecodeError:
            raise ValueError("the JWKS is not JSON") from None
        if not isinstance(document, dict):
            raise ValueError("the JWKS is not a JSON object")
        return usable_keys(document)
