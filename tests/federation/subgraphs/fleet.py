"""Fleet: owns the Vehicle entity interface and a Shipment with a compound key."""

from __future__ import annotations

import strawberry


@strawberry.federation.interface(keys=["id"])
class Vehicle:
    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Vehicle:
        return VEHICLES[str(id)]


@strawberry.federation.type(keys=["id"])
class Truck(Vehicle):
    axles: int


@strawberry.federation.type(keys=["id"])
class Van(Vehicle):
    doors: int


VEHICLES: dict[str, Vehicle] = {
    "t1": Truck(id=strawberry.ID("t1"), axles=3),
    "v1": Van(id=strawberry.ID("v1"), doors=4),
}


@strawberry.federation.type(keys=["carrier tracking"])
class Parcel:
    carrier: str
    tracking: str
    vehicle_id: strawberry.Private[str]

    @strawberry.field
    def vehicle(self) -> Vehicle:
        return VEHICLES[self.vehicle_id]


@strawberry.type
class Query:
    @strawberry.field
    def vehicles(self) -> list[Vehicle]:
        return list(VEHICLES.values())

    @strawberry.field
    def parcels(self) -> list[Parcel]:
        return [
            Parcel(carrier="DHL", tracking="123", vehicle_id="t1"),
            Parcel(carrier="UPS", tracking="9", vehicle_id="v1"),
        ]


schema = strawberry.federation.Schema(query=Query, types=[Truck, Van, Parcel])
