"""Items (materials, SKUs) as the ERP's item master describes them."""

from __future__ import annotations

from dataclasses import dataclass

from domain.units import Money, UnitOfMeasure, Weight


@dataclass(frozen=True, slots=True)
class Item:
    sku: str
    description: str
    base_unit: UnitOfMeasure
    gross_weight: Weight
    standard_price: Money
