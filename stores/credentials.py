"""Credentials issued at run time: API keys and OAuth clients of partners, one table for both.

Only a digest of each secret is kept (the secret is shown once, when it is created). A row is
found by its `key_id`, a short random identifier that is not secret and travels inside the
credential itself, so a look-up is one primary-key read and the digest is compared after.
Revoking sets `revoked_at` and keeps the row: a key id is never reused, and the list shows
what was revoked and when. Every process of a deployment reads the same rows, so a revocation
holds everywhere (within the short cache its readers keep, see `policies.api_keys`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

import orjson
from sqlalchemy import Column, DateTime, String, Table, Text, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from stores.sql import METADATA, as_utc

CredentialKind = Literal["api_key", "oauth_client"]

CREDENTIALS = Table(
    "credentials",
    METADATA,
    Column("key_id", String(32), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("client", String(100), nullable=False),
    Column("tenant", String(100), nullable=False, index=True),
    Column("scopes", Text, nullable=False),
    Column("warehouses", Text, nullable=False),
    Column("plan", String(64), nullable=False),
    Column("secret_sha256", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Column("description", String(200), nullable=False),
)


@dataclass(frozen=True, slots=True)
class Credential:
    key_id: str
    kind: CredentialKind
    client: str
    tenant: str
    scopes: frozenset[str]
    warehouses: frozenset[str]
    plan: str
    secret_sha256: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    description: str = ""

    def active_at(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


class CredentialStore(Protocol):
    async def add(self, credential: Credential) -> None:
        """Store a new credential; its key id must be new."""
        ...

    async def get(self, key_id: str) -> Credential | None: ...

    async def list(self, *, tenant: str | None = None, limit: int = 1000) -> Sequence[Credential]:
        """Newest first; every tenant's when `tenant` is None."""
        ...

    async def revoke(self, key_id: str, *, tenant: str | None = None) -> Credential | None:
        """Revoke the credential (only if it belongs to `tenant`, when given); the credential
        as it now is, or None when there is no such credential (for that tenant)."""
        ...


class SqlCredentialStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, credential: Credential) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(CREDENTIALS.insert().values(**_row(credential)))

    async def get(self, key_id: str) -> Credential | None:
        query = select(CREDENTIALS).where(CREDENTIALS.c.key_id == key_id)
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).one_or_none()
        return None if row is None else _credential(row)

    async def list(self, *, tenant: str | None = None, limit: int = 1000) -> Sequence[Credential]:
        query = select(CREDENTIALS).order_by(CREDENTIALS.c.created_at.desc(), CREDENTIALS.c.key_id)
        if tenant is not None:
            query = query.where(CREDENTIALS.c.tenant == tenant)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query.limit(limit))).all()
        return [_credential(row) for row in rows]

    async def revoke(self, key_id: str, *, tenant: str | None = None) -> Credential | None:
        condition = [CREDENTIALS.c.key_id == key_id, CREDENTIALS.c.revoked_at.is_(None)]
        if tenant is not None:
            condition.append(CREDENTIALS.c.tenant == tenant)
        statement = update(CREDENTIALS).where(*condition).values(revoked_at=datetime.now(UTC))
        async with self._engine.begin() as connection:
            await connection.execute(statement)
        credential = await self.get(key_id)
        if credential is None or (tenant is not None and credential.tenant != tenant):
            return None
        return credential


def _row(credential: Credential) -> dict[str, object]:
    return {
        "key_id": credential.key_id,
        "kind": credential.kind,
        "client": credential.client,
        "tenant": credential.tenant,
        "scopes": orjson.dumps(sorted(credential.scopes)).decode(),
        "warehouses": orjson.dumps(sorted(credential.warehouses)).decode(),
        "plan": credential.plan,
        "secret_sha256": credential.secret_sha256,
        "created_at": credential.created_at,
        "expires_at": credential.expires_at,
        "revoked_at": credential.revoked_at,
        "description": credential.description,
    }


def _credential(row) -> Credential:  # type: ignore[no-untyped-def]
    created_at, expires_at = as_utc(row.created_at), as_utc(row.expires_at)
    assert created_at is not None and expires_at is not None
    return Credential(
        key_id=row.key_id,
        kind=row.kind,
        client=row.client,
        tenant=row.tenant,
        scopes=frozenset(orjson.loads(row.scopes)),
        warehouses=frozenset(orjson.loads(row.warehouses)),
        plan=row.plan,
        secret_sha256=row.secret_sha256,
        created_at=created_at,
        expires_at=expires_at,
        revoked_at=as_utc(row.revoked_at),
        description=row.description,
    )
