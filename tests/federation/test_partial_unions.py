"""Union members that only some of the subgraphs serving a shareable value know."""

from __future__ import annotations

import pytest

from federation.composition import SubgraphSource, compose, load_sdl_from_module
from federation.router import Router, Supergraph

pytestmark = pytest.mark.asyncio

STOPS = "stops { __typename ... on Depot { code } ... on TruckStop { lane } ... on Port { berth } }"


@pytest.fixture(scope="module")
def legs() -> Supergraph:
    sources = [
        SubgraphSource(
            name,
            f"inproc:tests.federation.subgraphs.{name}:schema",
            load_sdl_from_module(f"tests.federation.subgraphs.{name}:schema"),
        )
        for name in ("road", "sea")
    ]
    return Supergraph.from_sdl(compose(sources).supergraph_sdl)


async def test_member_unknown_to_another_candidate_subgraph_is_not_fetched(
    legs: Supergraph,
) -> None:
    query = f"{{ roadLeg {{ route {{ {STOPS} }} }} }}"
    router = Router(legs)
    result = await router.execute(query)
    assert result == {
        "data": {
            "roadLeg": {
                "route": {
                    "stops": [
                        {"__typename": "Depot", "code": "DUS"},
                        {"__typename": "TruckStop", "lane": None},
                    ]
                }
            }
        }
    }, "the route could come from the sea subgraph too, which never returns a TruckStop"
    operations = [fetch.operation for fetch in router.plan(query).fetches]
    assert len(operations) == 1 and "lane" not in operations[0], operations


async def test_member_of_the_only_subgraph_serving_the_value_is_fetched(
    legs: Supergraph,
) -> None:
    result = await Router(legs).execute(f"{{ roadLeg {{ seaRoute {{ {STOPS} }} }} }}")
    assert result == {
        "data": {
            "roadLeg": {
                "seaRoute": {
                    "stops": [
                        {"__typename": "Depot", "code": "RTM"},
                        {"__typename": "Port", "berth": "B7"},
                    ]
                }
            }
        }
    }
