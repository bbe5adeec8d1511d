"""Inventory positions: several named states per bin and SKU, never one "quantity".

The WMS owns on hand by location; allocations follow the ERP's released orders as the WMS
records them; available to promise is derived here so that every layer computes it the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from domain.locations import Location
from domain.units import Quantity, UnitOfMeasure


class AdjustmentReason(StrEnum):
    """Why stock in a bin changed outside picking, as the WMS codes it."""

    DAMAGED = "DAMAGED"
    """Taken off sellable stock into quarantine."""
    COUNT = "COUNT"
    """A cycle count found a different number."""
    FOUND = "FOUND"
    """Stock turned up that was not on record."""
    RETURNED = "RETURNED"
    """A customer return put back into the bin, not yet inspected."""


class InventoryState(StrEnum):
    ON_HAND = "ON_HAND"
    ALLOCATED = "ALLOCATED"
    AVAILABLE_TO_PROMISE = "AVAILABLE_TO_PROMISE"
    IN_TRANSIT = "IN_TRANSIT"
    QUARANTINED = "QUARANTINED"
    RETURNED = "RETURNED"


@dataclass(frozen=True, slots=True)
class InventoryPosition:
    """Stock of one SKU in one bin.

    `on_hand` is sellable physical stock; quarantined (damaged, on hold) and returned (not yet
    inspected) stock sit in the bin too but are counted apart and never promised.
    """

    sku: str
    location: Location
    unit: UnitOfMeasure
    on_hand: Decimal
    allocated: Decimal
    in_transit: Decimal
    quarantined: Decimal
    returned: Decimal
    updated_at: datetime | None = None

    @property
    def available_to_promise(self) -> Decimal:
        return max(self.on_hand - self.allocated, Decimal(0))

    def quantity(self, state: InventoryState) -> Quantity:
        values = {
            InventoryState.ON_HAND: self.on_hand,
            InventoryState.ALLOCATED: self.allocated,
            InventoryState.AVAILABLE_TO_PROMISE: self.available_to_promise,
            InventoryState.IN_TRANSIT: self.in_transit,
            InventoryState.QUARANTINED: self.quarantined,
            InventoryState.RETURNED: self.returned,
        }
        return Quantity(values[state], self.unit)
