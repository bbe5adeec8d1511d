"""Opening every store from the configuration's URLs, and closing them again."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from stores.credentials import CredentialStore, SqlCredentialStore
from stores.cursors import CursorStore, SqlCursorStore
from stores.dead_letters import DeadLetterStore, SqlDeadLetterStore
from stores.deprecations import DeprecatedUseStore, SqlDeprecatedUseStore
from stores.event_log import AppendSignal, EventLog, SignallingEventLog, SqlEventLog
from stores.freshness import HeardStore, SqlHeardStore
from stores.idempotency import SqlIdempotencyStore
from stores.inventory import InventoryStore, SqlInventoryStore
from stores.leases import LeaseStore, SqlLeaseStore
from stores.milestones import MilestoneStore, SqlMilestoneStore
from stores.orders import OrderStore, SqlOrderStore
from stores.positions import PositionStore, SqlPositionStore
from stores.reconciliation import SqlReconciliationStore
from stores.revoked_tokens import RevokedTokenStore, SqlRevokedTokenStore
from stores.shipments import ShipmentStore, SqlShipmentStore
from stores.sql import create_tables, open_engine
from stores.workflows import SqlWorkflowStore


def new_holder_id() -> str:
    """This process's name in leases: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True, slots=True)
class Stores:
    engine: AsyncEngine
    event_log: EventLog
    dead_letters: DeadLetterStore
    milestones: MilestoneStore
    cursors: CursorStore
    shipments: ShipmentStore
    orders: OrderStore
    inventory: InventoryStore
    heard: HeardStore
    positions: PositionStore
    leases: LeaseStore
    idempotency: SqlIdempotencyStore
    workflows: SqlWorkflowStore
    reconciliation: SqlReconciliationStore
    credentials: CredentialStore
    revoked_tokens: RevokedTokenStore
    deprecated_uses: DeprecatedUseStore
    appended: AppendSignal = field(default_factory=AppendSignal)
    """Notified after every new event appended by this process."""
    progressed: AppendSignal = field(default_factory=AppendSignal)
    """Notified after a consumer in this process moved its position."""
    holder_id: str = field(default_factory=new_holder_id)

    async def close(self) -> None:
        await self.event_log.close()
        await self.engine.dispose()


async def open_stores(
    database_url: str,
    event_log_url: str = "sql",
    *,
    stream: str = "LOGISTICS_EVENTS",
    subject_prefix: str = "logistics.events",
    idempotency_ttl_s: float = 86_400.0,
    idempotency_lease_s: float = 60.0,
    event_replicas: int = 1,
) -> Stores:
    """`event_log_url` is `sql` (the log lives in the database) or a `nats://` URL (JetStream,
    in `stream` under the subjects `subject_prefix.>`); idempotency records are kept
    `idempotency_ttl_s`, a command holds its key `idempotency_lease_s` at most."""
    engine = open_engine(database_url)
    await create_tables(engine)
    if event_log_url == "sql":
        event_log: EventLog = SqlEventLog(engine)
    elif event_log_url.startswith(("nats://", "tls://")):
        from stores.jetstream import JetStreamEventLog

        event_log = await JetStreamEventLog.connect(
            event_log_url, stream=stream, subject_prefix=subject_prefix, replicas=event_replicas
        )
    else:
        await engine.dispose()
        raise ValueError(f"event log URL must be 'sql' or nats://…, got {event_log_url!r}")
    appended = AppendSignal()
    return Stores(
        engine=engine,
        event_log=SignallingEventLog(event_log, appended),
        dead_letters=SqlDeadLetterStore(engine),
        milestones=SqlMilestoneStore(engine),
        cursors=SqlCursorStore(engine),
        shipments=SqlShipmentStore(engine),
        orders=SqlOrderStore(engine),
        inventory=SqlInventoryStore(engine),
        heard=SqlHeardStore(engine),
        positions=SqlPositionStore(engine),
        leases=SqlLeaseStore(engine),
        idempotency=SqlIdempotencyStore(
            engine, ttl_s=idempotency_ttl_s, lease_s=idempotency_lease_s
        ),
        workflows=SqlWorkflowStore(engine),
        reconciliation=SqlReconciliationStore(engine),
        credentials=SqlCredentialStore(engine),
        revoked_tokens=SqlRevokedTokenStore(engine),
        deprecated_uses=SqlDeprecatedUseStore(engine),
        appended=appended,
    )
