"""A WebSocket client subscribes through the router's own app: the client transport, the
router's subscription execution and an in-process subscription subgraph, all real."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect

from federation.composition import SubgraphSource, compose, load_sdl_from_module
from federation.router import Router, Supergraph, build_app
from federation.router.streaming import StreamShutdown
from tests.federation.streams import Served, serving

pytestmark = pytest.mark.asyncio

TICKS = 'subscription { parcelTicks(id: "e2e", count: 3) { status location } }'


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    sources = [
        SubgraphSource(
            name,
            f"inproc:tests.federation.subgraphs.{name}:schema",
            load_sdl_from_module(f"tests.federation.subgraphs.{name}:schema"),
        )
        for name in ("parcels", "tracking")
    ]
    router = Router(Supergraph.from_sdl(compose(sources).supergraph_sdl))
    shutdown = StreamShutdown()
    with serving(build_app(router, shutdown=shutdown), shutdown) as server:
        yield server


async def receive(socket: ClientConnection) -> dict[str, Any]:
    return orjson.loads(await asyncio.wait_for(socket.recv(), 5))


async def test_a_websocket_client_receives_each_event_with_fields_of_another_subgraph(
    served: Served,
) -> None:
    async with connect(served.ws, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        await socket.send(orjson.dumps({"type": "connection_init"}).decode())
        assert (await receive(socket))["type"] == "connection_ack"
        subscribe = {"id": "s1", "type": "subscribe", "payload": {"query": TICKS}}
        await socket.send(orjson.dumps(subscribe).decode())
        messages = [await receive(socket) for _ in range(5)]
    events = [m["payload"] for m in messages[:3]]
    assert [m["type"] for m in messages[:3]] == ["next"] * 3
    assert [e["data"]["parcelTicks"]["status"] for e in events] == ["tick 1", "tick 2", "tick 3"]
    assert all(e["data"]["parcelTicks"]["location"].startswith("hub ") for e in events)
    assert [e["extensions"]["eventId"] for e in events] == ["1", "2", "3"]
    ended = messages[3]["payload"]["errors"][0]["extensions"]["code"]
    assert ended == "SUBSCRIPTION_ENDED"
    assert messages[4] == {"id": "s1", "type": "complete"}
