"""Store interfaces and their embedded (SQLite) and scale-out (PostgreSQL, JetStream) engines."""

from stores.bundle import Stores, open_stores
from stores.cursors import CursorStore, SqlCursorStore
from stores.dead_letters import DeadLetter, DeadLetterStore, SqlDeadLetterStore
from stores.event_log import (
    AppendResult,
    EventLog,
    EventLogUnavailable,
    SqlEventLog,
    StoredEvent,
)
from stores.milestones import MilestoneStore, SqlMilestoneStore
from stores.sql import create_tables, open_engine

__all__ = [
    "AppendResult",
    "CursorStore",
    "DeadLetter",
    "DeadLetterStore",
    "EventLog",
    "EventLogUnavailable",
    "MilestoneStore",
    "SqlCursorStore",
    "SqlDeadLetterStore",
    "SqlEventLog",
    "SqlMilestoneStore",
    "StoredEvent",
    "Stores",
    "create_tables",
    "open_engine",
    "open_stores",
]
