"""What a warehouse command can answer, and the stored form every retry is answered from.

Expected business failures (no such task, already confirmed, not enough stock) are outcomes,
not exceptions: the caller acts on them, and a retry under the same idempotency key must see
the same one. Each outcome has a JSON form with a `type` tag; `outcome_from_record` reads it
back exactly, so a replay is indistinguishable from the first answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.inventory import position_from_record, position_record
from domain.locations import Location
from system_apis.wms.models import PickTask, StockAdjustment, TaskState, TaskType


@dataclass(frozen=True, slots=True)
class PickConfirmed:
    task: PickTask


@dataclass(frozen=True, slots=True)
class PackConfirmed:
    task: PickTask


@dataclass(frozen=True, slots=True)
class StockAdjusted:
    adjustment: StockAdjustment


@dataclass(frozen=True, slots=True)
class TaskNotFound:
    """No such task of that kind in the caller's warehouses (another warehouse's is the same)."""

    task_id: str


@dataclass(frozen=True, slots=True)
class TaskAlreadyConfirmed:
    """The task was confirmed before, by a request with another idempotency key."""

    task_id: str


@dataclass(frozen=True, slots=True)
class QuantityExceedsTask:
    task_id: str
    requested: Decimal
    maximum: Decimal


@dataclass(frozen=True, slots=True)
class InsufficientStock:
    """The bin holds less than the command takes; `on_hand` as the WMS counted it."""

    sku: str
    location: Location
    requested: Decimal
    on_hand: Decimal | None


@dataclass(frozen=True, slots=True)
class UnknownLocation:
    """No such warehouse among the caller's (another warehouse's is the same)."""

    location: Location


PickOutcome = PickConfirmed | InsufficientStock | TaskNotFound | TaskAlreadyConfirmed
PickOutcome = PickOutcome | QuantityExceedsTask
PackOutcome = PackConfirmed | TaskNotFound | TaskAlreadyConfirmed | QuantityExceedsTask
AdjustOutcome = StockAdjusted | InsufficientStock | UnknownLocation
Outcome = PickOutcome | PackOutcome | AdjustOutcome


def outcome_to_record(outcome: Outcome) -> dict[str, Any]:
    """The outcome as JSON-ready data (decimals and times as strings), tagged with its type."""
    body: dict[str, Any]
    if isinstance(outcome, PickConfirmed | PackConfirmed):
        body = {"task": _task(outcome.task)}
    elif isinstance(outcome, StockAdjusted):
        body = {
            "adjustment_id": outcome.adjustment.adjustment_id,
            "position": position_record(outcome.adjustment.position),
        }
    elif isinstance(outcome, TaskNotFound | TaskAlreadyConfirmed):
        body = {"task_id": outcome.task_id}
    elif isinstance(outcome, QuantityExceedsTask):
        body = {
            "task_id": outcome.task_id,
            "requested": str(outcome.requested),
            "maximum": str(outcome.maximum),
        }
    elif isinstance(outcome, InsufficientStock):
        body = {
            "sku": outcome.sku,
            **_location(outcome.location),
            "requested": str(outcome.requested),
            "on_hand": None if outcome.on_hand is None else str(outcome.on_hand),
        }
    else:
        body = _location(outcome.location)
    return {"type": type(outcome).__name__, **body}


def outcome_from_record(record: Mapping[str, Any]) -> Outcome:
    reader = _READERS.get(str(record.get("type")))
    if reader is None:
        raise ValueError(f"not a stored warehouse outcome: {record.get('type')!r}")
    return reader(record)


def _task(task: PickTask) -> dict[str, Any]:
    return {
        "task_id": task.task_id,
        "task_type": task.task_type.value,
        "order_id": task.order_id,
        **_location(task.location),
        "sku": task.sku,
        "quantity": str(task.quantity),
        "state": task.state.value,
        "done_at": task.done_at.isoformat() if task.done_at else None,
    }


def _task_from(data: Mapping[str, Any]) -> PickTask:
    return PickTask(
        task_id=data["task_id"],
        task_type=TaskType(data["task_type"]),
        order_id=data["order_id"],
        location=_location_from(data),
        sku=data["sku"],
        quantity=Decimal(data["quantity"]),
        state=TaskState(data["state"]),
        done_at=datetime.fromisoformat(data["done_at"]) if data["done_at"] else None,
    )


def _location(location: Location) -> dict[str, str]:
    return {"warehouse_id": location.warehouse_id, "bin": location.bin}


def _location_from(data: Mapping[str, Any]) -> Location:
    return Location(warehouse_id=data["warehouse_id"], bin=data["bin"])


_READERS: dict[str, Callable[[Mapping[str, Any]], Outcome]] = {
    "PickConfirmed": lambda data: PickConfirmed(_task_from(data["task"])),
    "PackConfirmed": lambda data: PackConfirmed(_task_from(data["task"])),
    "StockAdjusted": lambda data: StockAdjusted(
        StockAdjustment(data["adjustment_id"], position_from_record(data["position"]))
    ),
    "TaskNotFound": lambda data: TaskNotFound(data["task_id"]),
    "TaskAlreadyConfirmed": lambda data: TaskAlreadyConfirmed(data["task_id"]),
    "QuantityExceedsTask": lambda data: QuantityExceedsTask(
        data["task_id"], Decimal(data["requested"]), Decimal(data["maximum"])
    ),
    "InsufficientStock": lambda data: InsufficientStock(
        data["sku"],
        _location_from(data),
        Decimal(data["requested"]),
        None if data["on_hand"] is None else Decimal(data["on_hand"]),
    ),
    "UnknownLocation": lambda data: UnknownLocation(_location_from(data)),
}
