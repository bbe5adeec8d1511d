"""Idempotency records: a client's key for one command, claimed before the command runs and
answered from the stored result on every retry, in this process or any other sharing the store.

A record is scoped by the caller (tenant and client) and the operation, so two clients choosing
the same key never meet. It holds a fingerprint of the request's arguments: the same key with
other arguments is the caller's mistake (`IdempotencyKeyReused`), never a silent replay of a
different command. A record is `in_progress` while one holder runs the command, under a lease
(`locked_until`) so a holder that dies does not block the key for ever, then `completed` with
the result. Records expire `ttl_s` after they were made; an expired key is free again.

Every decision is one conditional statement in the database (insert-if-absent, update-if-held),
so two processes racing on one key settle it there: exactly one gets `Started`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import orjson
from sqlalchemy import Column, DateTime, String, Table, Text, and_, delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from stores.sql import METADATA, as_utc, insert_into

MAX_KEY_LENGTH = 255
MAX_SCOPE_LENGTH = 200
MAX_OPERATION_LENGTH = 64

IDEMPOTENCY_RECORDS = Table(
    "idempotency_records",
    METADATA,
    Column("scope", String(MAX_SCOPE_LENGTH), primary_key=True),
    Column("operation", String(MAX_OPERATION_LENGTH), primary_key=True),
    Column("idempotency_key", String(MAX_KEY_LENGTH), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("holder", String(64), nullable=True),
    Column("result", Text, nullable=True),
    Column("locked_until", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
)

IN_PROGRESS = "in_progress"
COMPLETED = "completed"

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class RecordKey:
    """Which record: the caller's scope (tenant and client), the operation, the caller's key."""

    scope: str
    operation: str
    key: str

    def __post_init__(self) -> None:
        for name, value, limit in (
            ("scope", self.scope, MAX_SCOPE_LENGTH),
            ("operation", self.operation, MAX_OPERATION_LENGTH),
            ("key", self.key, MAX_KEY_LENGTH),
        ):
            if not value or len(value) > limit:
                raise ValueError(f"idempotency record {name} must be 1 to {limit} characters")


@dataclass(frozen=True, slots=True)
class Started:
    """This caller holds the key: run the command, then `complete` (or `release`) with `token`."""

    token: str


@dataclass(frozen=True, slots=True)
class Replay:
    """The command ran before under this key; its stored result is the answer."""

    result: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class InProgress:
    """Another request holds the key and is running the command right now."""

    locked_until: datetime


Claim = Started | Replay | InProgress


class IdempotencyKeyReused(Exception):
    """The key was first used with other arguments: retrying it cannot mean this request."""

    def __init__(self, record: RecordKey) -> None:
        super().__init__(
            f"idempotency key {record.key!r} was already used for {record.operation} "
            "with different arguments"
        )
        self.record = record


class IdempotencyStore(Protocol):
    async def claim(self, record: RecordKey, fingerprint: str) -> Claim: ...

    async def complete(self, record: RecordKey, token: str, result: Mapping[str, Any]) -> bool: ...

    async def release(self, record: RecordKey, token: str) -> None: ...

    async def purge_expired(self) -> int: ...


class SqlIdempotencyStore:
    """Idempotency records in SQLite or PostgreSQL.

    `lease_s` bounds how long a holder may run a command before another request may take the
    key over (longer than any backend call); `ttl_s` how long a key is remembered.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        ttl_s: float = 86_400.0,
        lease_s: float = 60.0,
        clock: Clock = _utc_now,
    ) -> None:
        if ttl_s <= 0 or lease_s <= 0:
            raise ValueError("ttl_s and lease_s must be positive")
        self._engine = engine
        self._ttl = timedelta(seconds=ttl_s)
        self._lease = timedelta(seconds=lease_s)
        self._clock = clock

    async def claim(self, record: RecordKey, fingerprint: str) -> Claim:
        """Start the command, or learn its result, or that it is running elsewhere.

        Raises `IdempotencyKeyReused` when the key's record has another fingerprint."""
        for _ in range(3):  # an expired record is removed, then the insert is tried again
            now = self._clock()
            token = secrets.token_hex(16)
            if await self._insert(record, fingerprint, token, now):
                return Started(token)
            row = await self._read(record)
            if row is None:
                continue  # removed (expired, or released) between the insert and the read
            if as_utc(row.expires_at) <= now:  # type: ignore[operator]
                await self._remove_expired(record, now)
                continue
            if row.fingerprint != fingerprint:
                raise IdempotencyKeyReused(record)
            if row.state == COMPLETED:
                return Replay(orjson.loads(row.result))
            locked_until = as_utc(row.locked_until)
            assert locked_until is not None
            if locked_until > now:
                return InProgress(locked_until)
            if await self._take_over(record, row.holder, token, now):
                return Started(token)
        return InProgress(self._clock() + self._lease)

    async def complete(self, record: RecordKey, token: str, result: Mapping[str, Any]) -> bool:
        """Store the result; False when the lease was lost to another holder meanwhile."""
        statement = (
            update(IDEMPOTENCY_RECORDS)
            .where(self._held(record, token))
            .values(state=COMPLETED, result=orjson.dumps(dict(result)).decode(), holder=None)
        )
        async with self._engine.begin() as connection:
            return (await connection.execute(statement)).rowcount == 1

    async def release(self, record: RecordKey, token: str) -> None:
        """Forget an unfinished claim (the command failed and may be retried under the key)."""
        async with self._engine.begin() as connection:
            await connection.execute(delete(IDEMPOTENCY_RECORDS).where(self._held(record, token)))

    async def purge_expired(self) -> int:
        """Delete every expired record; answers how many."""
        statement = delete(IDEMPOTENCY_RECORDS).where(
            IDEMPOTENCY_RECORDS.c.expires_at <= self._clock()
        )
        async with self._engine.begin() as connection:
            return (await connection.execute(statement)).rowcount

    async def _insert(self, record: RecordKey, fingerprint: str, token: str, now: datetime) -> bool:
        statement = (
            insert_into(self._engine, IDEMPOTENCY_RECORDS)
            .values(
                scope=record.scope,
                operation=record.operation,
                idempotency_key=record.key,
                fingerprint=fingerprint,
                state=IN_PROGRESS,
                holder=token,
                result=None,
                locked_until=now + self._lease,
                created_at=now,
                expires_at=now + self._ttl,
            )
            .on_conflict_do_nothing()
        )
        async with self._engine.begin() as connection:
            return (await connection.execute(statement)).rowcount == 1

    async def _read(self, record: RecordKey) -> Any:
        async with self._engine.connect() as connection:
            return (
                await connection.execute(select(IDEMPOTENCY_RECORDS).where(self._is(record)))
            ).first()

    async def _remove_expired(self, record: RecordKey, now: datetime) -> None:
        statement = delete(IDEMPOTENCY_RECORDS).where(
            and_(self._is(record), IDEMPOTENCY_RECORDS.c.expires_at <= now)
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)

    async def _take_over(
        self, record: RecordKey, previous: str | None, token: str, now: datetime
    ) -> bool:
        """Claim a record whose holder's lease ran out; only one of several racers succeeds."""
        statement = (
            update(IDEMPOTENCY_RECORDS)
            .where(
                and_(
                    self._is(record),
                    IDEMPOTENCY_RECORDS.c.state == IN_PROGRESS,
                    IDEMPOTENCY_RECORDS.c.holder == previous,
                    IDEMPOTENCY_RECORDS.c.locked_until <= now,
                )
            )
            .values(holder=token, locked_until=now + self._lease)
        )
        async with self._engine.begin() as connection:
            return (await connection.execute(statement)).rowcount == 1

    @staticmethod
    def _is(record: RecordKey) -> Any:
        table = IDEMPOTENCY_RECORDS.c
        return and_(
            table.scope == record.scope,
            table.operation == record.operation,
            table.idempotency_key == record.key,
        )

    def _held(self, record: RecordKey, token: str) -> Any:
        table = IDEMPOTENCY_RECORDS.c
        return and_(self._is(record), table.state == IN_PROGRESS, table.holder == token)
