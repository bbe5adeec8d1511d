"""Road legs: a consignment's shareable route, whose stops include road-only truck stops."""

from __future__ import annotations

from typing import Annotated

import strawberry


@strawberry.federation.type(shareable=True)
class Depot:
    code: str


@strawberry.type
class TruckStop:
    lane: str | None


Stop = Annotated[Depot | TruckStop, strawberry.union("Stop")]


@strawberry.federation.type(shareable=True)
class Route:
    stops: list[Stop] = strawberry.federation.field(shareable=True)


@strawberry.federation.type(keys=["id"])
class Consignment:
    id: strawberry.ID

    @strawberry.federation.field(shareable=True)
    def route(self) -> Route:
        return Route(stops=[Depot(code="DUS"), TruckStop(lane="A3")])

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Consignment:
        return Consignment(id=id)


@strawberry.type
class Query:
    @strawberry.field
    def road_leg(self) -> Consignment:
        return Consignment(id=strawberry.ID("c1"))


schema = strawberry.federation.Schema(query=Query, types=[Consignment])
