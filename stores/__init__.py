"""Store interfaces and their embedded (SQLite) and scale-out (PostgreSQL, JetStream) engines."""

from stores.bundle import Stores, open_stores
from stores.cursors import CursorStore, SqlCursorStore
from stores.dead_letters import DeadLetter, DeadLetterStore, SqlDeadLetterStore
from stores.event_log import (
    AppendResult,
    AppendSignal,
    EventLog,
    EventLogUnavailable,
    SqlEventLog,
    StoredEvent,
)
from stores.leases import LeaseStore, SqlLeaseStore
from stores.milestones import MilestoneStore, SqlMilestoneStore
from stores.positions import PositionStore, SqlPositionStore
from stores.sql import create_tables, open_engine

__all__ = [
    "AppendResult",
    "AppendSignal",
    "CursorStore",
    "DeadLetter",
    "DeadLetterStore",
    "EventLog",
    "EventLogUnavailable",
    "LeaseStore",
    "MilestoneStore",
    "PositionStore",
    "SqlCursorStore",
    "SqlDeadLetterStore",
    "SqlEventLog",
    "SqlLeaseStore",
    "SqlMilestoneStore",
    "SqlPositionStore",
    "StoredEvent",
    "Stores",
    "create_tables",
    "open_engine",
    "open_stores",
]
