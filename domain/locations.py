"""Warehouses and bin locations."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Location:
    """A bin within a warehouse: the grain at which the WMS counts stock."""

    warehouse_id: str
    bin: str


@dataclass(frozen=True, slots=True)
class Warehouse:
    warehouse_id: str
    name: str = ""
    country: str = ""
