"""Customers (the tenants of the gateway) and addresses."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Address:
    name: str
    street: str
    city: str
    postal_code: str
    country: str  # ISO 3166-1 alpha-2


@dataclass(frozen=True, slots=True)
class Customer:
    """A customer account; its id is the tenant every other record is scoped by."""

    customer_id: str
    name: str
    country: str
    currency: str
    credit_blocked: bool = False
