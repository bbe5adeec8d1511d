"""An in-process subgraph gets its own copy of a request's variables, as one over HTTP does."""

from __future__ import annotations

import copy

import strawberry

from federation.router.transports.base import SubgraphRequest
from federation.router.transports.inproc import InProcessTransport

WEIGHTS = {"P-1": 3, "P-2": 5}


@strawberry.federation.type(keys=["id"])
class Parcel:
    id: strawberry.ID
    weight: int

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Parcel:
        return cls(id=id, weight=WEIGHTS[str(id)])


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "hi"


SCHEMA = strawberry.federation.Schema(query=Query, types=[Parcel])
ENTITIES = """query($representations: [_Any!]!) {
  _entities(representations: $representations) { ... on Parcel { id weight } }
}"""


async def test_representations_are_answered_and_left_as_the_router_sent_them():
    """Strawberry takes `__typename` out of each representation it resolves; the router reads
    them again after the answer (its entity cache tags each entity by them)."""
    representations = [{"__typename": "Parcel", "id": "P-1"}, {"__typename": "Parcel", "id": "P-2"}]
    request = SubgraphRequest("parcels", ENTITIES, {"representations": representations})
    sent = copy.deepcopy(request.variables)
    answer = await InProcessTransport("parcels", SCHEMA).execute(request)
    assert answer == {
        "data": {"_entities": [{"id": "P-1", "weight": 3}, {"id": "P-2", "weight": 5}]}
    }
    assert request.variables == sent


async def test_a_request_without_variables_still_runs():
    answer = await InProcessTransport("parcels", SCHEMA).execute(
        SubgraphRequest("parcels", "{ hello }")
    )
    assert answer == {"data": {"hello": "hi"}}
