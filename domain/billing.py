"""Invoices and freight charges; the ERP owns both (valuation and billing)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from domain.units import Money


class InvoiceStatus(StrEnum):
    OPEN = "OPEN"
    PAID = "PAID"


@dataclass(frozen=True, slots=True)
class FreightCharge:
    carrier: str
    tracking_number: str
    amount: Money


@dataclass(frozen=True, slots=True)
class Invoice:
    invoice_id: str
    order_id: str
    customer_id: str
    issued_on: date
    due_on: date
    net: Money
    tax: Money
    gross: Money
    status: InvoiceStatus
    freight: tuple[FreightCharge, ...] = field(default_factory=tuple)
