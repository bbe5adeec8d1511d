"""WMS records to and from the canonical model, and their JSON-ready event payload forms."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from domain.inventory import InventoryPosition, position_record
from domain.locations import Location
from domain.units import UnitOfMeasure
from system_apis import fields
from system_apis.errors import MalformedPayload
from system_apis.milestones import RejectedRecord
from system_apis.wms.models import (
    AdjustmentReason,
    PickTask,
    PositionBatch,
    StockAdjustment,
    TaskState,
    TaskType,
)

UNITS: Mapping[str, UnitOfMeasure] = {unit.value: unit for unit in UnitOfMeasure}
TASK_TYPES: Mapping[str, TaskType] = {kind.value: kind for kind in TaskType}
TASK_STATES: Mapping[str, TaskState] = {"open": TaskState.OPEN, "done": TaskState.DONE}


def position_from_wms(record: Any, where: str = "position") -> InventoryPosition:
    data = fields.as_object(record, where)
    with fields.canonical(where):
        return _position(data, where)


def revised_position_from_wms(record: Any, where: str = "position") -> InventoryPosition:
    """A position that says its revision, as the stock listing's must (readers order copies
    of one position by it)."""
    position = position_from_wms(record, where)
    if position.revision is None:
        raise MalformedPayload(f"{where}.rev: a position needs its revision")
    return position


def position_batch_from_wms(answer: Any) -> PositionBatch:
    """A page of the stock listing mapped record by record (`PositionBatch`)."""
    data = fields.as_object(answer, "answer")
    positions: list[InventoryPosition] = []
    rejected: list[RejectedRecord] = []
    for index, record in enumerate(fields.as_list(data.get("data", []), "answer.data")):
        try:
            positions.append(revised_position_from_wms(record, f"data[{index}]"))
        except MalformedPayload as error:
            rejected.append(RejectedRecord(raw=orjson.dumps(record), error=error))
    token = data.get("cursor")
    return PositionBatch(
        tuple(positions), tuple(rejected), token if isinstance(token, str) and token else None
    )


def _position(data: Mapping[str, Any], where: str) -> InventoryPosition:
    return InventoryPosition(
        sku=fields.text(data, "sku", where),
        location=Location(
            warehouse_id=fields.text(data, "warehouse", where), bin=fields.text(data, "bin", where)
        ),
        unit=fields.choice(data, "uom", where, UNITS),
        on_hand=_count(data, "on_hand", where),
        allocated=_count(data, "allocated", where),
        in_transit=_count(data, "in_transit", where),
        quarantined=_count(data, "quarantine", where),
        returned=_count(data, "returned", where),
        updated_at=fields.optional_aware_datetime(data, "updated", where),
        revision=_revision(data, where),
    )


def task_from_wms(record: Any, where: str = "task") -> PickTask:
    data = fields.as_object(record, where)
    return PickTask(
        task_id=fields.text(data, "task_id", where),
        task_type=fields.choice(data, "type", where, TASK_TYPES),
        order_id=fields.text(data, "order_ref", where),
        location=Location(
            warehouse_id=fields.text(data, "warehouse", where), bin=fields.text(data, "bin", where)
        ),
        sku=fields.text(data, "sku", where),
        quantity=fields.decimal(data, "qty", where),
        state=fields.choice(data, "state", where, TASK_STATES),
        done_at=fields.optional_aware_datetime(data, "done_at", where),
    )


def adjustment_from_wms(record: Any, where: str = "adjustment") -> StockAdjustment:
    data = fields.as_object(record, where)
    return StockAdjustment(
        adjustment_id=fields.text(data, "adjustment_id", where),
        position=position_from_wms(fields.field(data, "position", where), f"{where}.position"),
    )


def confirmation_to_wms(quantity: Decimal | int, operator: str) -> dict[str, Any]:
    return {"qty": _whole(quantity, "quantity"), "operator": operator}


def adjustment_to_wms(
    location: Location, sku: str, delta: Decimal | int, reason: AdjustmentReason
) -> dict[str, Any]:
    return {
        "warehouse": location.warehouse_id,
        "bin": location.bin,
        "sku": sku,
        "delta": _whole(delta, "delta"),
        "reason": reason.value,
    }


def position_payload(position: InventoryPosition) -> dict[str, Any]:
    """JSON-ready canonical form (decimals as strings) for event payloads: every state, the
    derived available to promise, and the WMS's revision (`position_from_record` reads it)."""
    return {
        **position_record(position),
        "available_to_promise": str(position.available_to_promise),
    }


def task_payload(task: PickTask) -> dict[str, Any]:
    return {
        "task_id": task.task_id,
        "task_type": task.task_type.value,
        "order_id": task.order_id,
        "warehouse_id": task.location.warehouse_id,
        "bin": task.location.bin,
        "sku": task.sku,
        "quantity": str(task.quantity),
        "state": task.state.value,
        "done_at": _iso(task.done_at),
    }


def _count(data: Mapping[str, Any], key: str, where: str) -> Decimal:
    value = fields.decimal(data, key, where)
    if value < 0:
        raise MalformedPayload(f"{where}.{key}: a stock count cannot be negative, got {value}")
    return value


def _revision(data: Mapping[str, Any], where: str) -> int | None:
    """`rev`, the WMS's count of the position's changes, where the WMS says it."""
    value = data.get("rev")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise MalformedPayload(f"{where}.rev: expected a revision (0 to 2**63-1), got {value!r}")
    return value


def _whole(value: Decimal | int, name: str) -> int:
    number = Decimal(value)
    if number != number.to_integral_value():
        raise ValueError(f"the WMS counts whole units; {name} {value} is not whole")
    return int(number)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
