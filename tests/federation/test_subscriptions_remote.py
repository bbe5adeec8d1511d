"""Subscriptions on remote subgraphs over ``graphql-transport-ws``: a strawberry subgraph
behind uvicorn, and a bare WebSocket server on loopback that shows what the router sends
and how it takes a subgraph that misbehaves."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import orjson
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount
from strawberry.asgi import GraphQL
from websockets.asyncio.server import ServerConnection, serve

from federation.composition import SubgraphSource, compose, load_sdl_from_module
from federation.router import (
    Forwarded,
    HeaderRules,
    Insert,
    Router,
    SubscriptionEvent,
    SubscriptionStream,
    Supergraph,
)
from tests.federation.conftest import _Server, free_port
from tests.federation.subgraphs import parcels, tracking

pytestmark = pytest.mark.asyncio

WAIT_S = 5.0
TICKS = """subscription($id: ID!, $count: Int!, $pause: Float!) {
  parcelTicks(id: $id, count: $count, pause: $pause) { id status location carrier }
}"""


@pytest.fixture(scope="module")
def served() -> Iterator[dict[str, str]]:
    """The parcels and tracking subgraphs behind uvicorn (HTTP and WebSocket): name -> URL."""
    app = Starlette(
        routes=[
            Mount("/parcels", GraphQL(parcels.schema)),
            Mount("/tracking", GraphQL(tracking.schema)),
        ]
    )
    port = free_port()
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("subgraph server did not start")
        time.sleep(0.02)
    yield {name: f"http://127.0.0.1:{port}/{name}/" for name in ("parcels", "tracking")}
    server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def parcel_supergraph() -> Supergraph:
    sources = [
        SubgraphSource(
            name,
            f"inproc:tests.federation.subgraphs.{name}:schema",
            load_sdl_from_module(f"tests.federation.subgraphs.{name}:schema"),
        )
        for name in ("parcels", "tracking")
    ]
    return Supergraph.from_sdl(compose(sources).supergraph_sdl)


async def subscribed(router: Router, query: str, variables: Any, **options: Any) -> Any:
    stream = await router.subscribe(query, variables, None, **options)
    assert isinstance(stream, SubscriptionStream), f"refused: {stream}"
    return stream


async def next_event(stream: Any) -> SubscriptionEvent:
    async with asyncio.timeout(WAIT_S):
        return await anext(stream)


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT_S):
        while not condition():
            await asyncio.sleep(0.005)


async def test_remote_events_carry_entity_fields_and_event_ids(
    parcel_supergraph: Supergraph, served: dict[str, str]
) -> None:
    router = Router(parcel_supergraph, subgraphs=served)
    stream = await subscribed(router, TICKS, {"id": "r1", "count": 3, "pause": 0.0})
    events = [await next_event(stream) for _ in range(4)]
    await router.aclose()
    assert [e.event_id for e in events[:3]] == ["1", "2", "3"]
    ticks = [e.payload["data"]["parcelTicks"] for e in events[:3]]
    assert [t["status"] for t in ticks] == ["tick 1", "tick 2", "tick 3"]
    assert all(t["location"].startswith("hub ") and t["carrier"] == "OTHER" for t in ticks)
    assert events[3].payload["errors"][0]["extensions"]["code"] == "SUBSCRIPTION_ENDED"


async def test_closing_a_remote_subscription_closes_it_in_the_subgraph(
    parcel_supergraph: Supergraph, served: dict[str, str]
) -> None:
    router = Router(parcel_supergraph, subgraphs=served)
    stream = await subscribed(router, TICKS, {"id": "r-close", "count": 10_000, "pause": 0.01})
    await next_event(stream)
    assert "r-close" in parcels.ACTIVE_TICKS
    await stream.aclose()
    await until(lambda: "r-close" not in parcels.ACTIVE_TICKS)
    await router.aclose()


async def test_identical_remote_subscribers_share_one_subgraph_subscription(
    parcel_supergraph: Supergraph, served: dict[str, str]
) -> None:
    router = Router(parcel_supergraph, subgraphs=served)
    variables = {"id": "r-shared", "count": 10_000, "pause": 0.02}
    streams = [await subscribed(router, TICKS, variables, sharing_key="t1") for _ in range(50)]
    other_tenant = await subscribed(router, TICKS, variables, sharing_key="t2")
    for stream in streams:
        assert (await next_event(stream)).event_id is not None
    await next_event(other_tenant)
    assert parcels.ACTIVE_TICKS.count("r-shared") == 2  # one per tenant, not one per subscriber
    for stream in [*streams, other_tenant]:
        await stream.aclose()
    await until(lambda: "r-shared" not in parcels.ACTIVE_TICKS)
    await router.aclose()


# -- a bare graphql-transport-ws server ------------------------------------------------------

Script = Callable[[ServerConnection, dict[str, Any]], Awaitable[None]]


async def _handshake(connection: ServerConnection, seen: dict[str, Any]) -> dict[str, Any]:
    seen["headers"] = {k.lower(): v for k, v in connection.request.headers.raw_items()}
    seen["init"] = orjson.loads(await connection.recv())
    await connection.send('{"type":"connection_ack"}')
    subscribe = orjson.loads(await connection.recv())
    seen["subscribe"] = subscribe
    return subscribe


async def _well_behaved(connection: ServerConnection, seen: dict[str, Any]) -> None:
    subscribe = await _handshake(connection, seen)
    await connection.send('{"type":"ping"}')
    seen["pong"] = orjson.loads(await connection.recv())
    event = {"data": {"parcelUpdated": {"__typename": "Parcel", "id": "p1", "status": "SEEN"}}}
    event["extensions"] = {"eventId": "42"}
    await connection.send(orjson.dumps({"id": subscribe["id"], "type": "next", "payload": event}))
    seen["after_event"] = orjson.loads(await connection.recv())


async def _hangs_up(connection: ServerConnection, seen: dict[str, Any]) -> None:
    await _handshake(connection, seen)
    await connection.close(1011, "database at 10.4.4.4 exploded")


async def _garbles(connection: ServerConnection, seen: dict[str, Any]) -> None:
    await _handshake(connection, seen)
    await connection.send("this is not json")
    await connection.wait_closed()


async def _never_acknowledges(connection: ServerConnection, seen: dict[str, Any]) -> None:
    await connection.recv()
    await connection.wait_closed()


async def _refuses(connection: ServerConnection, seen: dict[str, Any]) -> None:
    subscribe = await _handshake(connection, seen)
    errors = [{"message": "unknown argument at db-3.internal", "extensions": {"code": "BAD"}}]
    await connection.send(orjson.dumps({"id": subscribe["id"], "type": "error", "payload": errors}))
    await connection.wait_closed()


async def _oversized(connection: ServerConnection, seen: dict[str, Any]) -> None:
    subscribe = await _handshake(connection, seen)
    huge = {"data": {"parcelUpdated": {"__typename": "Parcel", "id": "x" * 2_000_000}}}
    await connection.send(orjson.dumps({"id": subscribe["id"], "type": "next", "payload": huge}))
    await connection.wait_closed()


@pytest.fixture
async def bare_server() -> AsyncIterator[Callable[[Script], tuple[str, dict[str, Any]]]]:
    """Serves one script per test on a loopback port; returns its URL and what it saw."""
    servers: list[Any] = []

    def start(script: Script, subprotocol: str | None = "graphql-transport-ws") -> Any:
        seen: dict[str, Any] = {}

        async def handler(connection: ServerConnection) -> None:
            seen["connections"] = seen.get("connections", 0) + 1
            try:
                await script(connection, seen)
            except Exception as error:  # the client left; the test reads ``seen``
                seen["ended"] = type(error).__name__

        async def opened() -> str:
            server = await serve(
                handler,
                "127.0.0.1",
                0,
                subprotocols=[subprotocol] if subprotocol else None,  # type: ignore[list-item]
                max_size=4_000_000,
            )
            servers.append(server)
            port = next(iter(server.sockets)).getsockname()[1]
            return f"http://127.0.0.1:{port}/graphql"

        return opened, seen

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


UPDATED = 'subscription { parcelUpdated(id: "p1") { status location } }'


async def test_the_router_speaks_graphql_transport_ws_with_forwarded_identity_and_resume_id(
    parcel_supergraph: Supergraph, bare_server: Any
) -> None:
    opened, seen = bare_server(_well_behaved)
    router = Router(
        parcel_supergraph,
        subgraphs={"parcels": await opened()},
        header_rules={"parcels": HeaderRules((Insert("x-router", "r1"),))},
    )
    forwarded = Forwarded(
        identity=lambda subgraph: (("x-principal", f"alice@{subgraph}"),),
        trace=(("x-correlation-id", "c-77"),),
    )
    stream = await subscribed(router, UPDATED, None, forwarded=forwarded, last_event_id="41")
    event = await next_event(stream)
    assert event.event_id == "42"
    assert event.payload["data"]["parcelUpdated"]["status"] == "SEEN"
    assert event.payload["data"]["parcelUpdated"]["location"].startswith("hub ")
    await stream.aclose()
    await until(lambda: "after_event" in seen)
    assert seen["headers"]["sec-websocket-protocol"] == "graphql-transport-ws"
    for header, value in (
        ("x-router", "r1"),
        ("x-principal", "alice@parcels"),
        ("x-correlation-id", "c-77"),
    ):
        assert seen["headers"][header] == value
        assert seen["init"]["payload"]["headers"][header] == value
    assert seen["init"]["type"] == "connection_init"
    subscribe = seen["subscribe"]
    assert subscribe["type"] == "subscribe"
    assert subscribe["payload"]["extensions"] == {"lastEventId": "41"}
    assert subscribe["payload"]["query"].startswith("subscription")
    assert seen["pong"] == {"type": "pong"}
    assert seen["after_event"] == {"id": subscribe["id"], "type": "complete"}
    await router.aclose()


@pytest.mark.parametrize(
    ("script", "code", "internal"),
    [
        (_hangs_up, "SUBGRAPH_UNAVAILABLE", "10.4.4.4"),
        (_garbles, "SUBGRAPH_INVALID_RESPONSE", "not json"),
        (_never_acknowledges, "SUBGRAPH_TIMEOUT", "connection_ack"),
        (_oversized, "SUBGRAPH_UNAVAILABLE", "1009"),
    ],
    ids=["disconnects", "malformed", "silent", "oversized"],
)
async def test_a_misbehaving_remote_subgraph_ends_the_subscription_with_a_neutral_error(
    parcel_supergraph: Supergraph, bare_server: Any, script: Script, code: str, internal: str
) -> None:
    opened, _seen = bare_server(script)
    router = Router(parcel_supergraph, subgraphs={"parcels": await opened()}, timeout=0.5)
    stream = await subscribed(router, UPDATED, None)
    final = await next_event(stream)
    assert final.payload["data"] is None
    assert [e["extensions"]["code"] for e in final.payload["errors"]] == [code]
    assert internal not in str(final.payload)
    with pytest.raises(StopAsyncIteration):
        await next_event(stream)
    await router.aclose()


async def test_a_remote_refusal_reaches_the_client_redacted_then_ends_the_stream(
    parcel_supergraph: Supergraph, bare_server: Any
) -> None:
    opened, _seen = bare_server(_refuses)
    router = Router(
        parcel_supergraph,
        subgraphs={"parcels": await opened()},
        redact_errors_of=frozenset({"parcels"}),
    )
    stream = await subscribed(router, UPDATED, None)
    refused, ended = await next_event(stream), await next_event(stream)
    assert refused.payload["errors"][0] == {
        "message": 'Subgraph "parcels" returned an error.',
        "extensions": {"code": "BAD", "serviceName": "parcels"},
    }
    assert "db-3" not in str(refused.payload)
    assert ended.payload["errors"][0]["extensions"]["code"] == "SUBSCRIPTION_ENDED"
    await router.aclose()


async def test_a_server_without_the_subprotocol_is_not_spoken_to(
    parcel_supergraph: Supergraph, bare_server: Any
) -> None:
    opened, seen = bare_server(_well_behaved, subprotocol=None)
    router = Router(parcel_supergraph, subgraphs={"parcels": await opened()})
    stream = await subscribed(router, UPDATED, None)
    final = await next_event(stream)
    assert final.payload["errors"][0]["extensions"]["code"] == "SUBGRAPH_INVALID_RESPONSE"
    assert "init" not in seen
    await router.aclose()


async def test_an_unreachable_subgraph_ends_the_subscription_with_a_neutral_error(
    parcel_supergraph: Supergraph,
) -> None:
    port = free_port()  # nothing listens there
    router = Router(parcel_supergraph, subgraphs={"parcels": f"http://127.0.0.1:{port}/"})
    stream = await subscribed(router, UPDATED, None)
    final = await next_event(stream)
    assert final.payload["errors"] == [
        {
            "message": "The parcels service is unavailable.",
            "extensions": {"code": "SUBGRAPH_UNAVAILABLE", "serviceName": "parcels"},
        }
    ]
    await router.aclose()
