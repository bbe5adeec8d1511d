"""Units of measure, quantities and money: never a bare number where a unit is meant."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class UnitOfMeasure(StrEnum):
    """Counting and handling units the backends use; weights and lengths are separate."""

    EACH = "EA"
    CASE = "CS"
    PALLET = "PL"
    BOX = "BX"
    KILOGRAM = "KG"
    LITRE = "L"


class WeightUnit(StrEnum):
    KILOGRAM = "KG"
    POUND = "LB"


KILOGRAMS_PER_POUND = Decimal("0.45359237")


@dataclass(frozen=True, slots=True)
class Quantity:
    """A count in an explicit unit (4 EA is not 4 CS)."""

    value: Decimal
    unit: UnitOfMeasure

    def __post_init__(self) -> None:
        if not isinstance(self.value, Decimal):
            object.__setattr__(self, "value", Decimal(str(self.value)))


@dataclass(frozen=True, slots=True)
class Weight:
    value: Decimal
    unit: WeightUnit

    def __post_init__(self) -> None:
        if not isinstance(self.value, Decimal):
            object.__setattr__(self, "value", Decimal(str(self.value)))

    def in_kilograms(self) -> Decimal:
        if self.unit is WeightUnit.KILOGRAM:
            return self.value
        return (self.value * KILOGRAMS_PER_POUND).quantize(Decimal("0.001"))


@dataclass(frozen=True, slots=True)
class Money:
    """An amount with its ISO 4217 currency; amounts are decimals, never floats."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            object.__setattr__(self, "amount", Decimal(str(self.amount)))
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper():
            raise ValueError(f"currency must be an ISO 4217 code, got {self.currency!r}")
