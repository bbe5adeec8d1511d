"""Inventory positions: several named states per bin and SKU, never one "quantity".

The WMS owns on hand by location; allocations follow the ERP's released orders as the WMS
records them; available to promise is derived here so that every layer computes it the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from domain.locations import Location
from domain.storable import InvalidCanonicalValue, check_instant, check_text
from domain.units import Quantity, UnitOfMeasure

POSITION_TEXT_LIMITS: Mapping[str, int] = {"sku": 64, "warehouse_id": 64, "bin": 64}
"""Maximum length of a position's keys; the inventory read model's columns are sized from it
(and a key of all three, `warehouse/bin/sku`, fits an event's aggregate id)."""

_MAX_REVISION = 2**63


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
    revision: int | None = None
    """The WMS's change counter of this bin and SKU: of two copies, the higher is the newer,
    whatever order they arrived in (None where the source does not number its changes)."""

    def __post_init__(self) -> None:
        """Only what every store can hold: bounded keys, finite counts, a 64-bit revision."""
        for name, value in (
            ("sku", self.sku),
            ("warehouse_id", self.location.warehouse_id),
            ("bin", self.location.bin),
        ):
            limit = POSITION_TEXT_LIMITS[name]
            check_text(f"InventoryPosition.{name}", value, max_length=limit, required=True)
        for state in ("on_hand", "allocated", "in_transit", "quarantined", "returned"):
            if not getattr(self, state).is_finite():
                raise InvalidCanonicalValue(f"InventoryPosition.{state}", "must be finite")
        if self.updated_at is not None:
            check_instant("InventoryPosition.updated_at", self.updated_at)
        if self.revision is not None and (
            isinstance(self.revision, bool) or not 0 <= self.revision < _MAX_REVISION
        ):
            raise InvalidCanonicalValue("InventoryPosition.revision", "must be 0 to 2**63-1")

    @property
    def key(self) -> str:
        """`warehouse/bin/sku`: the position's aggregate id in events."""
        return f"{self.location.warehouse_id}/{self.location.bin}/{self.sku}"

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


STOCK_STATES = ("on_hand", "allocated", "in_transit", "quarantined", "returned")
"""The counts a position holds (available to promise is derived from them)."""


def position_record(position: InventoryPosition) -> dict[str, Any]:
    """The position in JSON-ready form (counts as decimal text, never floats), for event
    payloads and stored records alike; `position_from_record` reads it back."""
    return {
        "sku": position.sku,
        "warehouse_id": position.location.warehouse_id,
        "bin": position.location.bin,
        "unit": position.unit.value,
        **{state: str(getattr(position, state)) for state in STOCK_STATES},
        "updated_at": position.updated_at.isoformat() if position.updated_at else None,
        "revision": position.revision,
    }


def position_from_record(data: Mapping[str, Any]) -> InventoryPosition:
    """Raises KeyError, TypeError or ValueError (`InvalidCanonicalValue` among them) when
    `data` is not such a record."""
    updated_at = data.get("updated_at")
    revision = data.get("revision")
    if revision is not None and (isinstance(revision, bool) or not isinstance(revision, int)):
        raise InvalidCanonicalValue("InventoryPosition.revision", "must be an integer")
    return InventoryPosition(
        sku=data["sku"],
        location=Location(warehouse_id=data["warehouse_id"], bin=data["bin"]),
        unit=UnitOfMeasure(data["unit"]),
        **{state: Decimal(data[state]) for state in STOCK_STATES},
        updated_at=datetime.fromisoformat(updated_at) if updated_at else None,
        revision=revision,
    )
