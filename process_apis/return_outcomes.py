"""What a return command can come to: the success, and each expected business failure.

These are answers, not errors: the caller shows them to a person (the window has closed,
more than shipped, already received). Backend trouble is not among them; it stays an error,
and the same command may be sent again under the same idempotency key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from domain.returns import ReturnAuthorization, ReturnReceipt
from system_apis.erp.returns import ShippedShortfall


@dataclass(frozen=True, slots=True)
class ReturnRequested:
    authorization: ReturnAuthorization


@dataclass(frozen=True, slots=True)
class OrderNotFound:
    """No order of the caller's with this id (another tenant's order is answered the same)."""

    order_id: str


@dataclass(frozen=True, slots=True)
class OrderLineNotFound:
    order_id: str
    line_number: int


@dataclass(frozen=True, slots=True)
class QuantityExceedsShipped:
    order_id: str
    shortfalls: tuple[ShippedShortfall, ...]


@dataclass(frozen=True, slots=True)
class ReturnWindowClosed:
    order_id: str
    closed_on: date


@dataclass(frozen=True, slots=True)
class ReturnReceived:
    authorization: ReturnAuthorization
    receipt: ReturnReceipt


@dataclass(frozen=True, slots=True)
class ReturnNotFound:
    """No return the caller may receive with this id: none, another tenant's, rejected, or
    bound for a warehouse that is not the caller's (all answered the same)."""

    rma_id: str


@dataclass(frozen=True, slots=True)
class AlreadyReceived:
    rma_id: str
    receipt_id: str | None


@dataclass(frozen=True, slots=True)
class ExceedsAuthorization:
    """More units of a SKU received than the authorization lets back in (0: not on it)."""

    rma_id: str
    sku: str
    authorized: Decimal
    received: Decimal


RequestOutcome = (
    ReturnRequested
    | OrderNotFound
    | OrderLineNotFound
    | QuantityExceedsShipped
    | ReturnWindowClosed
)
ReceiveOutcome = ReturnReceived | ReturnNotFound | AlreadyReceived | ExceedsAuthorization
