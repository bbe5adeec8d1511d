"""WMS records the canonical model has no type for yet: warehouse tasks and adjustments.

The WMS is the system of record for both (`domain.system_of_record`: "PickTask.*"); they live
here until another layer needs them in `domain`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from domain.inventory import AdjustmentReason, InventoryPosition
from domain.locations import Location
from system_apis.milestones import RejectedRecord

__all__ = [
    "AdjustmentReason",
    "PickTask",
    "PositionBatch",
    "StockAdjustment",
    "TaskState",
    "TaskType",
]


class TaskType(StrEnum):
    PICK = "PICK"
    PACK = "PACK"
    SHIP = "SHIP"


class TaskState(StrEnum):
    OPEN = "OPEN"
    DONE = "DONE"


@dataclass(frozen=True, slots=True)
class PickTask:
    """One warehouse task for an order line; `quantity` is in the SKU's base unit."""

    task_id: str
    task_type: TaskType
    order_id: str
    location: Location
    sku: str
    quantity: Decimal
    state: TaskState
    done_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StockAdjustment:
    """A posted adjustment and the position as the WMS holds it afterwards."""

    adjustment_id: str
    position: InventoryPosition


@dataclass(frozen=True, slots=True)
class PositionBatch:
    """One page of the WMS's stock listing, mapped record by record: the positions, the
    records that did not map (kept whole, never dropped), and the cursor of the next page
    (None after the last)."""

    positions: tuple[InventoryPosition, ...]
    rejected: tuple[RejectedRecord, ...]
    cursor: str | None
