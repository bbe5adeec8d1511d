"""@interfaceObject, entity interfaces and compound keys (the fleet and telemetry subgraphs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from federation.router import Router, Supergraph

pytestmark = pytest.mark.asyncio

FLEET = Path(__file__).with_name("fleet.supergraph.graphql")


@pytest.fixture(scope="module")
def fleet() -> Supergraph:
    return Supergraph.from_sdl(FLEET.read_text())


async def test_interface_object_field_reaches_every_implementation(fleet: Supergraph) -> None:
    result = await Router(fleet).execute(
        "{ vehicles { id mileage ... on Truck { axles } ... on Van { doors } } }"
    )
    assert result == {
        "data": {
            "vehicles": [
                {"id": "t1", "mileage": 120000, "axles": 3},
                {"id": "v1", "mileage": 42000, "doors": 4},
            ]
        }
    }


async def test_concrete_type_behind_interface_object_is_resolved(fleet: Supergraph) -> None:
    query = "{ busiestVehicle { mileage __typename ... on Truck { axles } } }"
    router = Router(fleet)
    result = await router.execute(query)
    assert result == {
        "data": {"busiestVehicle": {"mileage": 120000, "__typename": "Truck", "axles": 3}}
    }
    entity = router.plan(query).fetches[1].entity
    assert entity is not None and entity.representation_typename == "Vehicle"


async def test_compound_key_representation(fleet: Supergraph) -> None:
    query = "{ parcels { carrier status vehicle { mileage } } }"
    router = Router(fleet)
    result = await router.execute(query)
    assert result["data"]["parcels"][0] == {
        "carrier": "DHL",
        "status": "DHL-123: IN_TRANSIT",
        "vehicle": {"mileage": 120000},
    }
    status_fetch = next(f for f in router.plan(query).fetches if "status" in f.operation)
    assert status_fetch.entity is not None
    assert [s.name for s in status_fetch.entity.representation] == ["carrier", "tracking"]
