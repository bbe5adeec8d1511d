"""Opening every store from the configuration's URLs, and closing them again."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from stores.cursors import CursorStore, SqlCursorStore
from stores.dead_letters import DeadLetterStore, SqlDeadLetterStore
from stores.event_log import EventLog, SqlEventLog
from stores.milestones import MilestoneStore, SqlMilestoneStore
from stores.sql import create_tables, open_engine


@dataclass(frozen=True, slots=True)
class Stores:
    engine: AsyncEngine
    event_log: EventLog
    dead_letters: DeadLetterStore
    milestones: MilestoneStore
    cursors: CursorStore

    async def close(self) -> None:
        await self.event_log.close()
        await self.engine.dispose()


async def open_stores(database_url: str, event_log_url: str = "sql") -> Stores:
    """`event_log_url` is `sql` (the log lives in the database) or a `nats://` URL (JetStream)."""
    engine = open_engine(database_url)
    await create_tables(engine)
    if event_log_url == "sql":
        event_log: EventLog = SqlEventLog(engine)
    elif event_log_url.startswith(("nats://", "tls://")):
        from stores.jetstream import JetStreamEventLog

        event_log = await JetStreamEventLog.connect(event_log_url)
    else:
        await engine.dispose()
        raise ValueError(f"event log URL must be 'sql' or nats://…, got {event_log_url!r}")
    return Stores(
        engine=engine,
        event_log=event_log,
        dead_letters=SqlDeadLetterStore(engine),
        milestones=SqlMilestoneStore(engine),
        cursors=SqlCursorStore(engine),
    )
