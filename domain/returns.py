"""Return authorizations: the start of return-to-restock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from domain.units import Quantity


class ReturnStatus(StrEnum):
    AUTHORIZED = "AUTHORIZED"
    IN_TRANSIT = "IN_TRANSIT"
    RECEIVED = "RECEIVED"
    RESTOCKED = "RESTOCKED"
    REJECTED = "REJECTED"


@dataclass(frozen=True, slots=True)
class ReturnLine:
    sku: str
    quantity: Quantity
    reason: str


@dataclass(frozen=True, slots=True)
class ReturnAuthorization:
    rma_id: str
    order_id: str
    customer_id: str
    status: ReturnStatus
    authorized_at: datetime
    lines: tuple[ReturnLine, ...] = field(default_factory=tuple)
    tracking_number: str | None = None
