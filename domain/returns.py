"""Returns: the ERP's authorization (RMA) and the WMS's receipt and inspection of the goods.

The ERP owns the authorization (who may send what back, from which order, to which
warehouse); the WMS owns what physically arrived and what became of each unit (restocked or
written off). `return_status` says how the two make one status, so every answer and every
workflow reads a return's progress the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from domain.units import Quantity


class ReturnStatus(StrEnum):
    AUTHORIZED = "AUTHORIZED"
    IN_TRANSIT = "IN_TRANSIT"
    RECEIVED = "RECEIVED"
    RESTOCKED = "RESTOCKED"
    """Inspected, and at least one unit went back into sellable stock."""
    WRITTEN_OFF = "WRITTEN_OFF"
    """Inspected, and nothing was fit to restock."""
    REJECTED = "REJECTED"
    """The ERP refused or cancelled the authorization; nothing may be received against it."""


RETURN_PROGRESS: Mapping[ReturnStatus, int] = MappingProxyType(
    {
        ReturnStatus.AUTHORIZED: 10,
        ReturnStatus.IN_TRANSIT: 20,
        ReturnStatus.RECEIVED: 30,
        ReturnStatus.RESTOCKED: 40,
        ReturnStatus.WRITTEN_OFF: 40,
        ReturnStatus.REJECTED: 100,
    }
)
"""A return only moves forwards; a rejection ends it whatever else is known."""


class ReturnReason(StrEnum):
    DAMAGED = "DAMAGED"
    WRONG_ITEM = "WRONG_ITEM"
    NOT_NEEDED = "NOT_NEEDED"
    DEFECTIVE = "DEFECTIVE"


class Disposition(StrEnum):
    """What inspection decided for returned units."""

    RESTOCK = "RESTOCK"
    WRITE_OFF = "WRITE_OFF"


@dataclass(frozen=True, slots=True)
class ReturnLine:
    sku: str
    quantity: Quantity
    reason: str
    """A `ReturnReason` value."""
    order_line: int | None = None
    """The order line the units were sold on (None when the ERP does not say)."""


@dataclass(frozen=True, slots=True)
class ReturnAuthorization:
    rma_id: str
    order_id: str
    customer_id: str
    status: ReturnStatus
    authorized_at: datetime
    lines: tuple[ReturnLine, ...] = field(default_factory=tuple)
    tracking_number: str | None = None
    warehouse_id: str | None = None
    """Where the goods are to be sent back to."""

    def authorized_quantity(self, sku: str) -> Quantity | None:
        """All units of `sku` this authorization lets back in (None: the SKU is not on it)."""
        lines = [line for line in self.lines if line.sku == sku]
        if not lines:
            return None
        return Quantity(sum((line.quantity.value for line in lines), 0), lines[0].quantity.unit)


@dataclass(frozen=True, slots=True)
class RequestedReturnLine:
    order_line: int
    quantity: Decimal
    reason: ReturnReason


@dataclass(frozen=True, slots=True)
class ReturnRequest:
    """A customer asking to send units of one of its orders back."""

    order_id: str
    customer_id: str
    lines: tuple[RequestedReturnLine, ...]


@dataclass(frozen=True, slots=True)
class ReceiptLine:
    sku: str
    quantity: Quantity
    disposition: Disposition | None = None
    """None until the units are inspected."""
    bin: str | None = None
    """Where restocked units were put away (or written-off ones quarantined)."""


@dataclass(frozen=True, slots=True)
class ReturnReceipt:
    """Goods received in a warehouse against one authorization."""

    receipt_id: str
    rma_id: str
    warehouse_id: str
    received_at: datetime
    lines: tuple[ReceiptLine, ...] = field(default_factory=tuple)
    inspected_at: datetime | None = None
    customer_id: str | None = None
    """The stock owner the warehouse received the goods for."""

    @property
    def inspected(self) -> bool:
        return self.inspected_at is not None

    def status(self) -> ReturnStatus:
        if not self.inspected:
            return ReturnStatus.RECEIVED
        restocked = any(line.disposition is Disposition.RESTOCK for line in self.lines)
        return ReturnStatus.RESTOCKED if restocked else ReturnStatus.WRITTEN_OFF


def return_status(authorized: ReturnStatus, receipt: ReturnReceipt | None) -> ReturnStatus:
    """One status from the ERP's word and the WMS's receipt: the further along wins.

    The WMS usually knows first that goods arrived (the ERP hears of it later, if at all), so a
    receipt moves the status on; the ERP saying more (closed) or rejecting it is never undone.
    """
    if receipt is None:
        return authorized
    physical = receipt.status()
    return physical if RETURN_PROGRESS[physical] > RETURN_PROGRESS[authorized] else authorized
