"""What the subgraphs share: value types (identical everywhere, hence shareable) and the formats
every argument a caller gives must have before it reaches a process API or a backend."""

from __future__ import annotations

import re
from decimal import Decimal

import strawberry

from domain.parties import Address as DomainAddress
from domain.units import Money as DomainMoney
from domain.units import Quantity as DomainQuantity
from resolvers.audiences import PARTNER
from resolvers.cache_control import INHERIT
from resolvers.errors import PublicError

BAD_USER_INPUT = "BAD_USER_INPUT"

IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""Every backend key (order, invoice, SKU, tracking number, warehouse): 1 to 64 letters, digits,
'-', '_' or '.', starting with a letter or digit, so no key is empty, '.', '..' or a path."""


def identifier(value: object, argument: str) -> str:
    """The caller's key as given, or the caller's error: a malformed key never costs a call."""
    text = str(value)
    if IDENTIFIER.fullmatch(text) is None:
        raise PublicError(
            f"{argument} is not a valid identifier: expected 1 to 64 letters, digits, "
            "'-', '_' or '.', starting with a letter or digit",
            BAD_USER_INPUT,
        )
    return text


def optional_identifier(value: object | None, argument: str) -> str | None:
    return None if value is None else identifier(value, argument)


def page_size(first: int, maximum: int, argument: str = "first") -> int:
    """A page size within bounds; outside them the caller hears the bounds, no silent clamp."""
    if not 1 <= first <= maximum:
        raise PublicError(f"{argument} must be between 1 and {maximum}", BAD_USER_INPUT)
    return first


@strawberry.federation.type(
    shareable=True, description="An amount in an ISO 4217 currency.", directives=[INHERIT, PARTNER]
)
class Money:
    amount: Decimal
    currency: str

    @classmethod
    def of(cls, money: DomainMoney) -> Money:
        return cls(amount=money.amount, currency=money.currency)


@strawberry.federation.type(
    shareable=True, description="A count in an explicit unit.", directives=[INHERIT, PARTNER]
)
class Quantity:
    value: Decimal
    unit: str

    @classmethod
    def of(cls, quantity: DomainQuantity) -> Quantity:
        return cls(value=quantity.value, unit=quantity.unit.value)


@strawberry.federation.type(shareable=True, directives=[INHERIT, PARTNER])
class Address:
    name: str
    street: str
    city: str
    postal_code: str
    country: str

    @classmethod
    def of(cls, address: DomainAddress) -> Address:
        return cls(
            name=address.name,
            street=address.street,
            city=address.city,
            postal_code=address.postal_code,
            country=address.country,
        )
