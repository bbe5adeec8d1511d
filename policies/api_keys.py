"""API keys and OAuth client secrets issued at run time, and how a presented one is checked.

An API key reads `lgk_<key id>_<secret>`: the key id (12 hex digits) is not secret, names the
key in lists, logs and revocations, and finds its row with one read; the secret is 32 random
bytes. A stored OAuth client is `lgc_<key id>` with such a secret. Only the SHA-256 of the
secret is stored: the secret is random and long, so a fast digest is as hard to reverse as a
slow one, and checking it costs nothing (configured OAuth client secrets, which people may
choose, get a slow hash instead: see `policies.oauth_clients`).

Each process keeps what it read of a key for at most `cache_s` seconds (at most 5), so a
revocation made by another process sharing the database holds everywhere within that time;
the process that revokes forgets the key at once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from policies.principal import Principal
from stores.credentials import Credential, CredentialKind, CredentialStore

API_KEY_PREFIX = "lgk_"
OAUTH_CLIENT_PREFIX = "lgc_"
MAX_CACHE_S = 5.0
MAX_CACHED = 10_000
_KEY_ID = r"[0-9a-f]{12}"
_SECRET = r"[A-Za-z0-9_-]{43}"
_API_KEY = re.compile(rf"^{API_KEY_PREFIX}({_KEY_ID})_({_SECRET})$")
_OAUTH_CLIENT_ID = re.compile(rf"^{OAUTH_CLIENT_PREFIX}({_KEY_ID})$")
KEY_ID = re.compile(rf"^{_KEY_ID}$")


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_id(value: str) -> tuple[str, str] | None:
    """(key id, secret) of something shaped like an issued API key, else None."""
    match = _API_KEY.fullmatch(value)
    return (match.group(1), match.group(2)) if match else None


def oauth_client_key_id(client_id: str) -> str | None:
    match = _OAUTH_CLIENT_ID.fullmatch(client_id)
    return match.group(1) if match else None


@dataclass(frozen=True, slots=True)
class Issued:
    """A new credential and its secret: the only time the secret exists in clear."""

    credential: Credential
    secret: str

    @property
    def api_key(self) -> str:
        return f"{API_KEY_PREFIX}{self.credential.key_id}_{self.secret}"

    @property
    def client_id(self) -> str:
        return f"{OAUTH_CLIENT_PREFIX}{self.credential.key_id}"


def new_credential(
    kind: CredentialKind,
    *,
    client: str,
    tenant: str,
    scopes: Iterable[str],
    plan: str,
    lifetime: timedelta,
    warehouses: Iterable[str] = (),
    description: str = "",
    now: datetime | None = None,
) -> Issued:
    created_at = now or datetime.now(UTC)
    secret = secrets.token_urlsafe(32)
    credential = Credential(
        key_id=secrets.token_hex(6),
        kind=kind,
        client=client,
        tenant=tenant,
        scopes=frozenset(scopes),
        warehouses=frozenset(warehouses),
        plan=plan,
        secret_sha256=secret_digest(secret),
        created_at=created_at,
        expires_at=created_at + lifetime,
        description=description,
    )
    return Issued(credential, secret)


def principal_of(credential: Credential) -> Principal:
    return Principal(
        credential.client,
        credential.tenant,
        credential.scopes,
        credential.warehouses,
        credential.plan,
    )


class StoredCredentials:
    """Reads credentials through a short per-process cache; answers why one is refused."""

    def __init__(
        self,
        store: CredentialStore,
        *,
        cache_s: float = MAX_CACHE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 <= cache_s <= MAX_CACHE_S:
            raise ValueError(f"cache_s must be between 0 and {MAX_CACHE_S}")
        self.store = store
        self._cache_s = cache_s
        self._clock = clock
        self._cached: dict[str, tuple[Credential | None, float]] = {}

    async def find(self, key_id: str) -> Credential | None:
        now = self._clock()
        cached = self._cached.get(key_id)
        if cached is not None and now - cached[1] < self._cache_s:
            return cached[0]
        credential = await self.store.get(key_id)
        if self._cache_s > 0:
            if len(self._cached) >= MAX_CACHED:
                self._cached = {k: v for k, v in self._cached.items() if now - v[1] < self._cache_s}
                if len(self._cached) >= MAX_CACHED:
                    self._cached.clear()
            self._cached[key_id] = (credential, now)
        return credential

    def forget(self, key_id: str) -> None:
        self._cached.pop(key_id, None)

    async def verify(self, key_id: str, secret: str, kind: CredentialKind) -> Credential | str:
        """The active credential `key_id` of `kind` whose secret is `secret`, else the words
        of the refusal (an unknown key and a wrong secret read the same)."""
        credential = await self.find(key_id)
        if (
            credential is None
            or credential.kind != kind
            or not hmac.compare_digest(credential.secret_sha256, secret_digest(secret))
        ):
            return "invalid API key" if kind == "api_key" else "invalid client"
        return _inactive(credential) or credential

    async def authenticate_api_key(self, value: str) -> Credential | str | None:
        """The active issued API key `value` is (`principal_of` says who it acts for); the
        refusal's words; None when `value` is not shaped like an issued key at all."""
        parsed = api_key_id(value)
        if parsed is None:
            return None
        return await self.verify(*parsed, "api_key")

    async def active(self, key_id: str) -> Credential | str:
        """The credential if it is still active (not revoked, not expired), else why not."""
        credential = await self.find(key_id)
        if credential is None:
            return "the client no longer exists"
        return _inactive(credential) or credential


def _inactive(credential: Credential) -> str | None:
    noun = "API key" if credential.kind == "api_key" else "client"
    if credential.revoked_at is not None:
        return f"the {noun} has been revoked"
    if datetime.now(UTC) >= credential.expires_at:
        return f"the {noun} has expired"
    return None
