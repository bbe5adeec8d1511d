"""Sea legs: the same shareable route, whose stops include sea-only ports, and a sea route."""

from __future__ import annotations

from typing import Annotated

import strawberry


@strawberry.federation.type(shareable=True)
class Depot:
    code: str


@strawberry.type
class Port:
    berth: str | None


Stop = Annotated[Depot | Port, strawberry.union("Stop")]


@strawberry.federation.type(shareable=True)
class Route:
    stops: list[Stop] = strawberry.federation.field(shareable=True)


def _sea_route() -> Route:
    return Route(stops=[Depot(code="RTM"), Port(berth="B7")])


@strawberry.federation.type(keys=["id"])
class Consignment:
    id: strawberry.ID

    @strawberry.federation.field(shareable=True)
    def route(self) -> Route:
        return _sea_route()

    @strawberry.field
    def sea_route(self) -> Route:
        return _sea_route()

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Consignment:
        return Consignment(id=id)


@strawberry.type
class Query:
    @strawberry.field
    def sea_leg(self) -> Consignment:
        return Consignment(id=strawberry.ID("c1"))


schema = strawberry.federation.Schema(query=Query, types=[Consignment])
