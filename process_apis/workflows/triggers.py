"""What starts a workflow: events in the log, followed by one consumer per deployment.

- an `order.changed` event whose order is RELEASED starts order-to-ship for the order;
- a DELIVERED `shipment.milestone` starts ship-to-invoice for the shipment;
- a `return.authorized` event starts return-to-restock for the return, and the WMS's
  `return.received` and `return.inspected` wake that workflow at once if it waits for them.

A workflow's id is its kind and subject, so an event seen again (a redelivery, a batch applied
twice after a crash, a second RELEASED change of one order) finds the workflow it started.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.events import EventEnvelope
from process_apis.workflows import order_to_ship, return_to_restock, ship_to_invoice
from process_apis.workflows.engine import WorkflowEngine, workflow_id_of
from stores.event_log import StoredEvent
from stores.shipments import ShipmentStore

logger = logging.getLogger(__name__)

TRIGGERS = "workflow-triggers"
"""The consumer's name: its position in the log is kept under it."""
ORDER_CHANGED = "order.changed"
MILESTONE = "shipment.milestone"
RETURN_AUTHORIZED = "return.authorized"
RETURN_PROGRESS = frozenset({"return.received", "return.inspected"})
SUBJECT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,47}")
"""A workflow's subject (an order id, a tracking number): it becomes part of the id."""


@dataclass(frozen=True, slots=True)
class WorkflowStart:
    kind: str
    subject: str
    inputs: Mapping[str, Any] = field(default_factory=dict)
    tenant_id: str | None = None
    correlation_id: str = ""


def trigger_of(envelope: EventEnvelope, since: datetime | None = None) -> WorkflowStart | None:
    """The workflow an event starts, if any; none for an event that happened before `since`
    (a backlog older than the deployment's workflows is started by hand, if at all)."""
    if since is not None and envelope.occurred_at < since:
        return None
    payload = envelope.payload
    if envelope.event_type == ORDER_CHANGED and payload.get("status") == "RELEASED":
        kind, subject = order_to_ship.KIND, envelope.aggregate_id
        inputs: dict[str, Any] = {"order_id": subject}
    elif envelope.event_type == MILESTONE and payload.get("status") == "DELIVERED":
        kind, subject = ship_to_invoice.KIND, envelope.aggregate_id
        inputs = {"tracking_number": subject, "delivered_at": envelope.occurred_at.isoformat()}
    elif envelope.event_type == RETURN_AUTHORIZED:
        kind, subject = return_to_restock.KIND, envelope.aggregate_id
        inputs = {"rma_id": subject}
    else:
        return None
    if not SUBJECT.fullmatch(subject):
        logger.warning("%s event %s names no valid subject", envelope.event_type, envelope.event_id)
        return None
    return WorkflowStart(kind, subject, inputs, envelope.tenant_id, envelope.correlation_id)


@dataclass(frozen=True, slots=True)
class WorkflowTriggers:
    engine: WorkflowEngine
    since: datetime | None = None
    """Events that happened before this start no workflow."""
    shipments: ShipmentStore | None = None
    """Where a carrier's delivery, which names no customer, finds the shipment's: its invoicing
    is then the customer's to see (`workflow(id)`, `workflowChanged`) from the start, even
    while it waits for the ERP."""
    name: str = TRIGGERS

    async def apply(self, events: Sequence[StoredEvent]) -> None:
        for stored in events:
            envelope = stored.envelope
            if envelope.event_type in RETURN_PROGRESS and SUBJECT.fullmatch(envelope.aggregate_id):
                await self.engine.hurry(
                    workflow_id_of(return_to_restock.KIND, envelope.aggregate_id)
                )
                continue
            start = trigger_of(envelope, self.since)
            if start is None:
                continue
            await self.engine.start(
                start.kind,
                start.subject,
                start.inputs,
                tenant_id=start.tenant_id or await self._shipment_tenant(start),
                correlation_id=start.correlation_id or stored.envelope.event_id,
            )

    async def _shipment_tenant(self, start: WorkflowStart) -> str | None:
        if self.shipments is None or start.kind != ship_to_invoice.KIND:
            return None
        shipment = await self.shipments.by_tracking_number(start.subject)
        return shipment.tenant_id if shipment else None
