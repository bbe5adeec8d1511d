"""WMS return receipts to and from the canonical model, and their event payload form.

The WMS grades each received line "sellable" (restocked) or "damaged" (written off); a
receipt's `state` is "received" until that inspection is done, then "inspected". It receives
an RMA once: a second receipt is refused with 409 `already_received` (`AlreadyReceived`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.returns import Disposition, ReceiptLine, ReturnReceipt
from domain.units import Quantity, UnitOfMeasure
from system_apis import fields
from system_apis.errors import BackendRejected, MalformedPayload

CONDITIONS: Mapping[str, Disposition] = {
    "sellable": Disposition.RESTOCK,
    "damaged": Disposition.WRITE_OFF,
}
WMS_CONDITIONS: Mapping[Disposition, str] = {
    disposition: code for code, disposition in CONDITIONS.items()
}
RECEIPT_STATES = frozenset({"received", "inspected"})
UNITS: Mapping[str, UnitOfMeasure] = {unit.value: unit for unit in UnitOfMeasure}


class AlreadyReceived(BackendRejected):
    """The WMS has received this RMA before, as `receipt_id`."""

    def __init__(self, refused: BackendRejected, receipt_id: str | None) -> None:
        super().__init__(
            refused.backend,
            refused.operation,
            status_code=refused.status_code,
            reason=refused.reason,
            message=refused.message,
            details=refused.details,
        )
        self.receipt_id = receipt_id


def receipt_from_wms(record: Any, where: str = "receipt") -> ReturnReceipt:
    data = fields.as_object(record, where)
    state = fields.text(data, "state", where)
    if state not in RECEIPT_STATES:
        raise MalformedPayload(f"{where}.state: unknown value {state!r}")
    inspected_at = fields.optional_aware_datetime(data, "inspected_at", where)
    if (state == "inspected") != (inspected_at is not None):
        raise MalformedPayload(f"{where}.inspected_at: must be given exactly when inspected")
    lines = fields.as_list(fields.field(data, "lines", where), f"{where}.lines")
    receipt_lines = tuple(
        receipt_line_from_wms(line, f"{where}.lines[{index}]", inspected=inspected_at is not None)
        for index, line in enumerate(lines)
    )
    with fields.canonical(where):
        return ReturnReceipt(
            receipt_id=fields.text(data, "receipt_id", where),
            rma_id=fields.text(data, "rma_ref", where),
            warehouse_id=fields.text(data, "warehouse", where),
            received_at=fields.aware_datetime(data, "received_at", where),
            lines=receipt_lines,
            inspected_at=inspected_at,
            customer_id=fields.optional_text(data, "owner", where),
        )


def receipt_line_from_wms(record: Any, where: str, *, inspected: bool) -> ReceiptLine:
    data = fields.as_object(record, where)
    quantity = fields.decimal(data, "qty", where)
    if quantity <= 0:
        raise MalformedPayload(f"{where}.qty: a received quantity must be positive, got {quantity}")
    disposition = None
    if inspected:
        disposition = fields.choice(data, "condition", where, CONDITIONS)
    return ReceiptLine(
        sku=fields.text(data, "sku", where),
        quantity=Quantity(quantity, fields.choice(data, "uom", where, UNITS)),
        disposition=disposition,
        bin=fields.optional_text(data, "bin", where) if inspected else None,
    )


def receipt_to_wms(
    rma_id: str, customer_id: str, warehouse_id: str, lines: Sequence[ReceiptLine]
) -> dict[str, Any]:
    """The body that records goods received against an RMA, each line already graded."""
    body_lines = []
    for line in lines:
        if line.disposition is None:
            raise ValueError(f"line {line.sku} needs a disposition: the dock grades what it takes")
        body_lines.append(
            {
                "sku": line.sku,
                "qty": _whole(line.quantity.value),
                "uom": line.quantity.unit.value,
                "condition": WMS_CONDITIONS[line.disposition],
            }
        )
    return {"rma_ref": rma_id, "owner": customer_id, "warehouse": warehouse_id, "lines": body_lines}


def receipt_refusal(error: BackendRejected) -> BackendRejected:
    """`AlreadyReceived` for the WMS's 409 `already_received`; any other refusal unchanged."""
    if error.status_code != 409 or error.reason != "already_received":
        return error
    details = error.details if isinstance(error.details, list) else []
    first = details[0] if details and isinstance(details[0], Mapping) else {}
    receipt_id = first.get("receipt_id")
    return AlreadyReceived(error, receipt_id if isinstance(receipt_id, str) else None)


def receipt_payload(receipt: ReturnReceipt) -> dict[str, Any]:
    """JSON-ready canonical form of a receipt (decimals as strings) for event payloads."""
    return {
        "rma_id": receipt.rma_id,
        "receipt_id": receipt.receipt_id,
        "customer_id": receipt.customer_id,
        "warehouse_id": receipt.warehouse_id,
        "status": receipt.status().value,
        "received_at": receipt.received_at.isoformat(),
        "inspected_at": _iso(receipt.inspected_at),
        "lines": [
            {
                "sku": line.sku,
                "quantity": str(line.quantity.value),
                "unit": line.quantity.unit.value,
                "disposition": line.disposition.value if line.disposition else None,
                "bin": line.bin,
            }
            for line in receipt.lines
        ],
    }


def _whole(value: Decimal) -> int:
    if value != value.to_integral_value():
        raise ValueError(f"the WMS counts whole units; {value} is not whole")
    return int(value)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def receipt_from_payload(payload: Mapping[str, Any]) -> ReturnReceipt:
    """The receipt an event payload (`receipt_payload`) describes."""
    where = "payload"
    lines = fields.as_list(fields.field(payload, "lines", where), f"{where}.lines")
    dispositions = {d.value: d for d in Disposition}

    def line_of(record: Any, at: str) -> ReceiptLine:
        data = fields.as_object(record, at)
        graded = fields.optional_text(data, "disposition", at) is not None
        return ReceiptLine(
            sku=fields.text(data, "sku", at),
            quantity=Quantity(
                fields.decimal(data, "quantity", at), fields.choice(data, "unit", at, UNITS)
            ),
            disposition=fields.choice(data, "disposition", at, dispositions) if graded else None,
            bin=fields.optional_text(data, "bin", at),
        )

    return ReturnReceipt(
        receipt_id=fields.text(payload, "receipt_id", where),
        rma_id=fields.text(payload, "rma_id", where),
        warehouse_id=fields.text(payload, "warehouse_id", where),
        received_at=fields.aware_datetime(payload, "received_at", where),
        inspected_at=fields.optional_aware_datetime(payload, "inspected_at", where),
        customer_id=fields.optional_text(payload, "customer_id", where),
        lines=tuple(line_of(line, f"{where}.lines[{index}]") for index, line in enumerate(lines)),
    )
