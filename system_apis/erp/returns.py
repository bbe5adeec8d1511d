"""The ERP's return orders (RMAs) to and from the canonical model, and its refusals typed.

The ERP refuses a return it will not authorize with a 409 and its own reason: the return
window has closed (`return_window_closed`), or more units are asked back than shipped less
what earlier returns took (`qty_exceeds_shipped`, one detail per order item). Both become
exceptions a caller can act on (`ReturnWindowClosed`, `QuantityExceedsShipped`), still
`BackendRejected`s for a caller that does not care which.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from domain.returns import (
    ReturnAuthorization,
    ReturnLine,
    ReturnReason,
    ReturnRequest,
    ReturnStatus,
)
from domain.units import Quantity, UnitOfMeasure
from system_apis import fields
from system_apis.errors import BackendRejected, MalformedPayload

RETURN_STATUS: Mapping[str, ReturnStatus] = {
    "AUTH": ReturnStatus.AUTHORIZED,
    "SHPD": ReturnStatus.IN_TRANSIT,
    "RCVD": ReturnStatus.RECEIVED,
    "CLSD": ReturnStatus.RESTOCKED,
    "REJ": ReturnStatus.REJECTED,
}
RETURN_REASON: Mapping[str, ReturnReason] = {
    "DMG": ReturnReason.DAMAGED,
    "WRG": ReturnReason.WRONG_ITEM,
    "NND": ReturnReason.NOT_NEEDED,
    "DEF": ReturnReason.DEFECTIVE,
}
ERP_RETURN_REASON: Mapping[ReturnReason, str] = {
    reason: code for code, reason in RETURN_REASON.items()
}
UNITS: Mapping[str, UnitOfMeasure] = {unit.value: unit for unit in UnitOfMeasure}


def return_from_erp(record: Any, where: str = "return_order") -> ReturnAuthorization:
    data = fields.as_object(record, where)
    items = fields.as_list(fields.field(data, "items", where), f"{where}.items")
    with fields.canonical(where):
        return ReturnAuthorization(
            rma_id=fields.text(data, "rma_no", where),
            order_id=fields.text(data, "ref_doc", where),
            customer_id=fields.text(data, "sold_to", where),
            status=fields.choice(data, "status", where, RETURN_STATUS),
            authorized_at=fields.aware_datetime(data, "created_at", where),
            lines=tuple(
                return_line_from_erp(item, f"{where}.items[{index}]")
                for index, item in enumerate(items)
            ),
            tracking_number=fields.optional_text(data, "carrier_tracking", where),
            warehouse_id=fields.optional_text(data, "plant", where),
        )


def return_line_from_erp(record: Any, where: str = "item") -> ReturnLine:
    data = fields.as_object(record, where)
    quantity = fields.decimal(data, "qty", where)
    if quantity <= 0:
        raise MalformedPayload(f"{where}.qty: a returned quantity must be positive, got {quantity}")
    return ReturnLine(
        sku=fields.text(data, "material", where),
        quantity=Quantity(quantity, fields.choice(data, "uom", where, UNITS)),
        reason=fields.choice(data, "reason_code", where, RETURN_REASON).value,
        order_line=fields.integer(data, "ref_pos", where),
    )


def return_request_to_erp(request: ReturnRequest) -> dict[str, Any]:
    """The body that asks the ERP to authorize a return."""
    return {
        "ref_doc": request.order_id,
        "sold_to": request.customer_id,
        "items": [
            {
                "ref_pos": line.order_line,
                "qty": _number(line.quantity),
                "reason_code": ERP_RETURN_REASON[line.reason],
            }
            for line in request.lines
        ],
    }


@dataclass(frozen=True, slots=True)
class ShippedShortfall:
    """One order line asked back beyond what shipped less what earlier returns took."""

    order_line: int
    sku: str
    shipped: Decimal
    already_returned: Decimal
    requested: Decimal


class ReturnWindowClosed(BackendRejected):
    """The ERP no longer authorizes returns of the order; `closed_on` is the last day it did."""

    def __init__(self, refused: BackendRejected, closed_on: date) -> None:
        super().__init__(
            refused.backend,
            refused.operation,
            status_code=refused.status_code,
            reason=refused.reason,
            message=refused.message,
            details=refused.details,
        )
        self.closed_on = closed_on


class QuantityExceedsShipped(BackendRejected):
    """More units asked back than can be; `shortfalls` says which lines and by how much."""

    def __init__(self, refused: BackendRejected, shortfalls: tuple[ShippedShortfall, ...]) -> None:
        super().__init__(
            refused.backend,
            refused.operation,
            status_code=refused.status_code,
            reason=refused.reason,
            message=refused.message,
            details=refused.details,
        )
        self.shortfalls = shortfalls


def return_refusal(error: BackendRejected) -> BackendRejected:
    """The typed form of a refused return, or the error unchanged when it is another refusal.

    A refusal whose details are off contract stays the plain `BackendRejected` it was: the
    caller still learns the ERP said no, and why in the ERP's own sentence.
    """
    if error.status_code != 409:
        return error
    details = error.details if isinstance(error.details, list) else []
    try:
        if error.reason == "return_window_closed" and details:
            closed = fields.day(
                fields.as_object(details[0], "details[0]"), "closed_on", "details[0]"
            )
            return ReturnWindowClosed(error, closed)
        if error.reason == "qty_exceeds_shipped" and details:
            return QuantityExceedsShipped(
                error,
                tuple(
                    _shortfall(detail, f"details[{index}]") for index, detail in enumerate(details)
                ),
            )
    except MalformedPayload:
        return error
    return error


def _shortfall(record: Any, where: str) -> ShippedShortfall:
    data = fields.as_object(record, where)
    return ShippedShortfall(
        order_line=fields.integer(data, "ref_pos", where),
        sku=fields.text(data, "material", where),
        shipped=fields.decimal(data, "shipped", where),
        already_returned=fields.decimal(data, "returned", where),
        requested=fields.decimal(data, "requested", where),
    )


def _number(quantity: Decimal) -> str:
    """The ERP takes quantities as decimal strings; whole numbers without a fraction."""
    return format(quantity.normalize(), "f")


def authorization_payload(authorization: ReturnAuthorization) -> dict[str, Any]:
    """JSON-ready canonical form of an authorization (decimals as strings) for event payloads."""
    return {
        "rma_id": authorization.rma_id,
        "order_id": authorization.order_id,
        "customer_id": authorization.customer_id,
        "warehouse_id": authorization.warehouse_id,
        "status": authorization.status.value,
        "authorized_at": authorization.authorized_at.isoformat(),
        "tracking_number": authorization.tracking_number,
        "lines": [
            {
                "order_line": line.order_line,
                "sku": line.sku,
                "quantity": str(line.quantity.value),
                "unit": line.quantity.unit.value,
                "reason": line.reason,
            }
            for line in authorization.lines
        ],
    }


def authorization_from_payload(payload: Mapping[str, Any]) -> ReturnAuthorization:
    """The authorization an event payload (`authorization_payload`) describes."""
    where = "payload"
    lines = fields.as_list(fields.field(payload, "lines", where), f"{where}.lines")
    reasons = {reason.value: reason for reason in ReturnReason}
    return ReturnAuthorization(
        rma_id=fields.text(payload, "rma_id", where),
        order_id=fields.text(payload, "order_id", where),
        customer_id=fields.text(payload, "customer_id", where),
        status=fields.choice(payload, "status", where, {s.value: s for s in ReturnStatus}),
        authorized_at=fields.aware_datetime(payload, "authorized_at", where),
        tracking_number=fields.optional_text(payload, "tracking_number", where),
        warehouse_id=fields.optional_text(payload, "warehouse_id", where),
        lines=tuple(
            ReturnLine(
                sku=fields.text(line, "sku", f"{where}.lines[{index}]"),
                quantity=Quantity(
                    fields.decimal(line, "quantity", f"{where}.lines[{index}]"),
                    fields.choice(line, "unit", f"{where}.lines[{index}]", UNITS),
                ),
                reason=fields.choice(line, "reason", f"{where}.lines[{index}]", reasons).value,
                order_line=(
                    fields.integer(line, "order_line", f"{where}.lines[{index}]")
                    if line.get("order_line") is not None
                    else None
                ),
            )
            for index, line in enumerate(fields.as_object(item, where) for item in lines)
        ),
    )
