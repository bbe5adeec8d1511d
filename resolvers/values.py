"""Value types shared by several subgraphs (identical everywhere, hence shareable)."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from domain.parties import Address as DomainAddress
from domain.units import Money as DomainMoney
from domain.units import Quantity as DomainQuantity


@strawberry.federation.type(shareable=True, description="An amount in an ISO 4217 currency.")
class Money:
    amount: Decimal
    currency: str

    @classmethod
    def of(cls, money: DomainMoney) -> Money:
        return cls(amount=money.amount, currency=money.currency)


@strawberry.federation.type(shareable=True, description="A count in an explicit unit.")
class Quantity:
    value: Decimal
    unit: str

    @classmethod
    def of(cls, quantity: DomainQuantity) -> Quantity:
        return cls(value=quantity.value, unit=quantity.unit.value)


@strawberry.federation.type(shareable=True)
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
