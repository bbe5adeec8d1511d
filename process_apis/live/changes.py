"""What each live subscription delivers: one change per event, in the canonical model's terms.

A change names its event's position (the id a client resumes from) and what changed; the
entity itself (the shipment, the order, the item, the workflow) is resolved per event by
whoever owns it, so a change carries only its key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from domain.orders import OrderStatus
from domain.shipments import Milestone, MilestoneStatus


@dataclass(frozen=True, slots=True)
class ShipmentChange:
    position: int
    event_type: str
    occurred_at: datetime
    tracking_number: str
    milestone: Milestone | None
    """The milestone this event reports (even a late one); None for other shipment events."""
    status: MilestoneStatus | None
    """The shipment's current status once this event is applied: it never goes backwards."""


@dataclass(frozen=True, slots=True)
class OrderChange:
    position: int
    event_type: str
    occurred_at: datetime
    order_id: str
    status: OrderStatus | None


@dataclass(frozen=True, slots=True)
class InventoryChange:
    position: int
    event_type: str
    occurred_at: datetime
    sku: str
    warehouse_id: str
    bin: str | None
    unit: str | None
    on_hand: Decimal | None
    available_to_promise: Decimal | None
    delta: Decimal | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class WorkflowChange:
    position: int
    event_type: str
    occurred_at: datetime
    workflow_id: str
    step: str | None
    state: str | None
