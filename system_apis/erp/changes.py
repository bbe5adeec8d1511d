"""The ERP's change log of sales orders, read by the order feed poller.

Each record is the whole order as it stood after one write, stamped with the ERP's own change
number (`change_no`, increasing with every write). Records map one by one: a record off
contract is set apart whole (for the dead letters) and the cursor still moves past it, so one
bad order never stops the feed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from domain.orders import ORDER_TEXT_LIMITS, Order, order_record
from domain.storable import check_json, check_text
from system_apis import fields
from system_apis.erp.mapping import order_from_erp
from system_apis.errors import MalformedPayload
from system_apis.milestones import RejectedRecord


@dataclass(frozen=True, slots=True)
class OrderChange:
    """One write of an order: `change_number` is the ERP's change stamp (its identity)."""

    change_number: int
    order: Order
    changed_at: datetime | None


@dataclass(frozen=True, slots=True)
class OrderChangeBatch:
    """One page of the change log: what mapped, what did not, where the next read starts
    (the ERP always names it), and whether more is waiting right now."""

    changes: tuple[OrderChange, ...]
    rejected: tuple[RejectedRecord, ...]
    cursor: str | None
    more: bool = False

    @property
    def records(self) -> tuple[OrderChange, ...]:
        return self.changes


def order_change_from_erp(record: Any, where: str = "change") -> OrderChange:
    data = fields.as_object(record, where)
    change_number = fields.integer(data, "change_no", where)
    if change_number < 1:
        raise MalformedPayload(f"{where}.change_no: must be 1 or more")
    order = order_from_erp(fields.field(data, "sales_order", where), f"{where}.sales_order")
    with fields.canonical(f"{where}.sales_order"):
        for name, limit in ORDER_TEXT_LIMITS.items():
            check_text(name, getattr(order, name), max_length=limit, required=True)
        check_json("order", order_record(order))
    return OrderChange(
        change_number=change_number,
        order=order,
        changed_at=fields.optional_aware_datetime(data, "changed_at", where) or order.changed_at,
    )


def order_changes_from_erp(answer: Any, where: str = "changes") -> OrderChangeBatch:
    data = fields.as_object(answer, where)
    records = fields.as_list(data.get("records") or [], f"{where}.records")
    changes: list[OrderChange] = []
    rejected: list[RejectedRecord] = []
    for index, record in enumerate(records):
        try:
            changes.append(order_change_from_erp(record, f"{where}.records[{index}]"))
        except MalformedPayload as error:
            rejected.append(RejectedRecord(raw=orjson.dumps(record), error=error))
    cursor = data.get("next_page_token")
    return OrderChangeBatch(
        changes=tuple(changes),
        rejected=tuple(rejected),
        cursor=cursor if isinstance(cursor, str) and cursor else None,
        more=data.get("has_more") is True,
    )
