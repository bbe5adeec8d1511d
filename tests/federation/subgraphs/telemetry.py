"""Telemetry: adds mileage to every Vehicle through @interfaceObject, and parcel status."""

from __future__ import annotations

import strawberry

MILEAGE = {"t1": 120_000, "v1": 42_000}


@strawberry.federation.interface_object(keys=["id"])
class Vehicle:
    id: strawberry.ID

    @strawberry.field
    def mileage(self) -> int:
        return MILEAGE[str(self.id)]

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Vehicle:
        return Vehicle(id=id)


@strawberry.federation.type(keys=["carrier tracking"])
class Parcel:
    carrier: str
    tracking: str

    @strawberry.field
    def status(self) -> str:
        return f"{self.carrier}-{self.tracking}: IN_TRANSIT"

    @classmethod
    def resolve_reference(cls, carrier: str, tracking: str) -> Parcel:
        return Parcel(carrier=carrier, tracking=tracking)


@strawberry.type
class Query:
    @strawberry.field
    def busiest_vehicle(self) -> Vehicle:
        return Vehicle(id=strawberry.ID("t1"))


schema = strawberry.federation.Schema(query=Query, types=[Vehicle, Parcel])
