"""Revoked access tokens: the `jti` of each token the gateway issued and then revoked.

A signed token is valid until it expires whatever happens, unless its verifier asks a list
like this one. A row only matters until the token would have expired anyway, so each row
keeps that instant and rows past it are purged; the table stays as small as the number of
tokens revoked within one token lifetime.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import Column, DateTime, String, Table, delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from stores.sql import METADATA, insert_into

REVOKED_TOKENS = Table(
    "revoked_tokens",
    METADATA,
    Column("jti", String(100), primary_key=True),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
)


class RevokedTokenStore(Protocol):
    async def revoke(self, jti: str, expires_at: datetime) -> None:
        """Remember `jti` until `expires_at` (revoking twice is harmless)."""
        ...

    async def is_revoked(self, jti: str) -> bool: ...


class SqlRevokedTokenStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def revoke(self, jti: str, expires_at: datetime) -> None:
        statement = (
            insert_into(self._engine, REVOKED_TOKENS)
            .values(jti=jti, expires_at=expires_at)
            .on_conflict_do_nothing(index_elements=[REVOKED_TOKENS.c.jti])
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)
            await connection.execute(
                delete(REVOKED_TOKENS).where(REVOKED_TOKENS.c.expires_at < datetime.now(UTC))
            )

    async def is_revoked(self, jti: str) -> bool:
        query = select(REVOKED_TOKENS.c.jti).where(REVOKED_TOKENS.c.jti == jti)
        async with self._engine.connect() as connection:
            return (await connection.execute(query)).scalar_one_or_none() is not None
