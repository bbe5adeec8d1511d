"""Dead letters: inbound payloads we could not accept, kept whole so they can be replayed.

One letter per source and body: a sender that retries a payload we refused (or several
deliveries of it at once) finds the letter already there, so the list shows each problem once.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import orjson
from sqlalchemy import (
    Column,
    DateTime,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from stores.sql import METADATA, as_utc, insert_into

DEAD_LETTERS = Table(
    "dead_letters",
    METADATA,
    Column("dead_letter_id", String(40), primary_key=True),
    Column("source", String(64), nullable=False, index=True),
    Column("reason", Text, nullable=False),
    Column("content_type", String(200), nullable=False),
    Column("headers", Text, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("body_sha256", String(64), nullable=False),
    Column("correlation_id", String(100), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("replayed_at", DateTime(timezone=True), nullable=True),
    Column("replay_outcome", Text, nullable=True),
    UniqueConstraint("source", "body_sha256", name="dead_letters_one_per_body"),
)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    dead_letter_id: str
    source: str
    reason: str
    content_type: str
    headers: Mapping[str, str]
    body: bytes
    correlation_id: str
    received_at: datetime
    replayed_at: datetime | None = None
    replay_outcome: str | None = None


@dataclass(frozen=True, slots=True)
class LetterSummary:
    """A letter as listed for operators: everything but its body and headers."""

    dead_letter_id: str
    source: str
    reason: str
    received_at: datetime
    size: int
    replayed_at: datetime | None
    replay_outcome: str | None


class DeadLetterStore(Protocol):
    async def put(
        self,
        *,
        source: str,
        reason: str,
        content_type: str,
        headers: Mapping[str, str],
        body: bytes,
        correlation_id: str,
    ) -> DeadLetter: ...

    async def get(self, dead_letter_id: str) -> DeadLetter | None: ...

    async def list(
        self,
        *,
        source: str | None = None,
        limit: int = 100,
        reason: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        replayed: bool | None = None,
        before: DeadLetter | None = None,
    ) -> Sequence[DeadLetter]: ...

    async def recent(self, limit: int) -> list[LetterSummary]: ...

    async def mark_replayed(self, dead_letter_id: str, outcome: str) -> None: ...


class SqlDeadLetterStore:
    """Dead letters in SQLite or PostgreSQL; `put` returns only after the row is committed."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def put(
        self,
        *,
        source: str,
        reason: str,
        content_type: str,
        headers: Mapping[str, str],
        body: bytes,
        correlation_id: str,
    ) -> DeadLetter:
        """The new letter, or the one already kept for this source and body."""
        letter = DeadLetter(
            dead_letter_id=f"dl_{uuid.uuid4().hex}",
            source=source,
            reason=reason,
            content_type=content_type,
            headers=dict(headers),
            body=body,
            correlation_id=correlation_id,
            received_at=datetime.now(UTC),
        )
        digest = hashlib.sha256(body).hexdigest()
        statement = (
            insert_into(self._engine, DEAD_LETTERS)
            .values(
                dead_letter_id=letter.dead_letter_id,
                source=letter.source,
                reason=letter.reason,
                content_type=letter.content_type,
                headers=orjson.dumps(letter.headers).decode(),
                body=letter.body,
                body_sha256=digest,
                correlation_id=letter.correlation_id,
                received_at=letter.received_at,
            )
            .on_conflict_do_nothing(index_elements=["source", "body_sha256"])
            .returning(DEAD_LETTERS.c.dead_letter_id)
        )
        async with self._engine.begin() as connection:
            if (await connection.execute(statement)).first() is not None:
                return letter
            kept = (
                await connection.execute(
                    select(DEAD_LETTERS).where(
                        DEAD_LETTERS.c.source == source, DEAD_LETTERS.c.body_sha256 == digest
                    )
                )
            ).one()
        return _from_row(kept)

    async def get(self, dead_letter_id: str) -> DeadLetter | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    select(DEAD_LETTERS).where(DEAD_LETTERS.c.dead_letter_id == dead_letter_id)
                )
            ).first()
        return _from_row(row) if row else None

    async def list(
        self,
        *,
        source: str | None = None,
        limit: int = 100,
        reason: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        replayed: bool | None = None,
        before: DeadLetter | None = None,
    ) -> Sequence[DeadLetter]:
        """Newest first. `reason` matches any part of the reason, ignoring case; `since` and
        `until` bound the time received (`until` excluded); `replayed` keeps the letters
        replayed already (True) or never (False); `before` is the last letter of the previous
        page."""
        table = DEAD_LETTERS.c
        query = (
            select(DEAD_LETTERS)
            .order_by(table.received_at.desc(), table.dead_letter_id.desc())
            .limit(limit)
        )
        if source is not None:
            query = query.where(table.source == source)
        if reason is not None:
            query = query.where(func.lower(table.reason).contains(reason.lower(), autoescape=True))
        if since is not None:
            query = query.where(table.received_at >= since.astimezone(UTC))
        if until is not None:
            query = query.where(table.received_at < until.astimezone(UTC))
        if replayed is not None:
            query = query.where(
                table.replayed_at.is_not(None) if replayed else table.replayed_at.is_(None)
            )
        if before is not None:
            query = query.where(
                or_(
                    table.received_at < before.received_at,
                    and_(
                        table.received_at == before.received_at,
                        table.dead_letter_id < before.dead_letter_id,
                    ),
                )
            )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_from_row(row) for row in rows]

    async def recent(self, limit: int) -> list[LetterSummary]:
        """The newest letters without their bodies (a body may be a megabyte)."""
        letters = DEAD_LETTERS.c
        query = (
            select(
                letters.dead_letter_id,
                letters.source,
                letters.reason,
                letters.received_at,
                func.length(letters.body),
                letters.replayed_at,
                letters.replay_outcome,
            )
            .order_by(letters.received_at.desc(), letters.dead_letter_id)
            .limit(limit)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [
            LetterSummary(
                dead_letter_id=row[0],
                source=row[1],
                reason=row[2],
                received_at=as_utc(row[3]),  # type: ignore[arg-type]
                size=int(row[4] or 0),
                replayed_at=as_utc(row[5]),
                replay_outcome=row[6],
            )
            for row in rows
        ]

    async def mark_replayed(self, dead_letter_id: str, outcome: str) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                update(DEAD_LETTERS)
                .where(DEAD_LETTERS.c.dead_letter_id == dead_letter_id)
                .values(replayed_at=datetime.now(UTC), replay_outcome=outcome)
            )


def _from_row(row) -> DeadLetter:  # type: ignore[no-untyped-def]
    return DeadLetter(
        dead_letter_id=row.dead_letter_id,
        source=row.source,
        reason=row.reason,
        content_type=row.content_type,
        headers=orjson.loads(row.headers),
        body=bytes(row.body),
        correlation_id=row.correlation_id,
        received_at=as_utc(row.received_at),  # type: ignore[arg-type]
        replayed_at=as_utc(row.replayed_at),
        replay_outcome=row.replay_outcome,
    )
