"""The client transports over the real router: a subscription subgraph (parcels) whose events
gain fields from another subgraph (tracking), served to real clients on loopback over
graphql-transport-ws, graphql-sse and multipart, with resume by event id."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import orjson
import pytest
from starlette.requests import HTTPConnection
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from federation.composition import SubgraphSource, compose, load_sdl_from_module
from federation.router import Router, Supergraph, build_app
from federation.router.limits import OperationLimits
from federation.router.streaming import StreamSettings, StreamShutdown, Subscriber
from tests.federation.streams import Served, serving
from tests.federation.subgraphs import parcels
from tests.federation.subgraphs.parcels import ParcelFeed
from tests.federation.test_streaming_http import MULTIPART, SSE, MultipartReader, read_sse
from tests.federation.test_streaming_websocket import PROTOCOL, receive, send, until_complete

TICKS = """subscription Ticks($id: ID!, $count: Int!) {
  parcelTicks(id: $id, count: $count) { id status location carrier }
}"""
UPDATED = "subscription Updated($id: ID!) { parcelUpdated(id: $id) { id status carrier } }"


@pytest.fixture(scope="module")
def feed() -> ParcelFeed:
    """Three status changes of p1 already happened; a subscriber resumes after one of them."""
    feed = ParcelFeed()
    feed.history = [("p1", "PICKED_UP"), ("p2", "ELSEWHERE"), ("p1", "IN_TRANSIT")]
    return feed


@contextmanager
def parcels_served(feed: ParcelFeed, settings: StreamSettings) -> Iterator[Served]:
    """The router over parcels and tracking on loopback; every client is one caller, so
    identical subscriptions share their upstream."""
    sources = [
        SubgraphSource(
            name,
            f"inproc:tests.federation.subgraphs.{name}:schema",
            load_sdl_from_module(f"tests.federation.subgraphs.{name}:schema"),
        )
        for name in ("parcels", "tracking")
    ]
    router = Router(
        Supergraph.from_sdl(compose(sources).supergraph_sdl),
        limits=OperationLimits(max_depth=3),
        redact_errors_of=frozenset({"parcels"}),
    )

    async def identify(connection: HTTPConnection, _: object) -> Subscriber:
        return Subscriber(context={"request": connection, "feed": feed}, sharing_key="tests")

    shutdown = StreamShutdown()
    app = build_app(router, identify=identify, shutdown=shutdown, stream_settings=settings)
    with serving(app, shutdown) as served:
        yield served


@pytest.fixture(scope="module")
def server(feed: ParcelFeed) -> Iterator[Served]:
    with parcels_served(feed, StreamSettings()) as served:
        yield served


def ticks(count: int) -> dict[str, Any]:
    return {"query": TICKS, "variables": {"id": "p1", "count": count}}


async def test_websocket_events_carry_fields_of_another_subgraph_and_their_ids(server):
    async with await connect(server.ws, subprotocols=[PROTOCOL]) as socket:  # type: ignore[list-item]
        await send(socket, {"type": "connection_init"})
        assert await receive(socket) == {"type": "connection_ack"}
        await send(socket, {"id": "t", "type": "subscribe", "payload": ticks(3)})
        messages = await until_complete(socket, "t")
    *events, ended = [m["payload"] for m in messages if m["type"] == "next"]
    assert [e["data"]["parcelTicks"]["status"] for e in events] == ["tick 1", "tick 2", "tick 3"]
    assert all(e["data"]["parcelTicks"]["location"].startswith("hub ") for e in events)
    assert all(e["data"]["parcelTicks"]["carrier"] == "ACME" for e in events)
    assert [e["extensions"]["eventId"] for e in events] == ["1", "2", "3"]
    # The router ends a stream with an event saying why, then the transport completes it.
    assert ended["errors"][0]["extensions"]["code"] == "SUBSCRIPTION_ENDED"
    assert messages[-1] == {"id": "t", "type": "complete"}


async def test_websocket_resumes_after_the_connections_last_event_id(server):
    async with await connect(server.ws, subprotocols=[PROTOCOL]) as socket:  # type: ignore[list-item]
        await send(socket, {"type": "connection_init", "payload": {"lastEventId": "1"}})
        assert await receive(socket) == {"type": "connection_ack"}
        payload = {"query": UPDATED, "variables": {"id": "p1"}}
        await send(socket, {"id": "u", "type": "subscribe", "payload": payload})
        missed = await receive(socket)
        await send(socket, {"id": "u", "type": "complete"})
    assert missed["payload"]["data"]["parcelUpdated"]["status"] == "IN_TRANSIT"
    assert missed["payload"]["extensions"]["eventId"] == "3"


async def test_websocket_refusals_and_failures_from_the_router(server):
    async with await connect(server.ws, subprotocols=[PROTOCOL]) as socket:  # type: ignore[list-item]
        await send(socket, {"type": "connection_init"})
        assert await receive(socket) == {"type": "connection_ack"}
        unknown = {"query": "subscription { parcelVanished { id } }"}
        await send(socket, {"id": "x", "type": "subscribe", "payload": unknown})
        (refused,) = await until_complete(socket, "x")
        assert refused["type"] == "error" and "parcelVanished" in refused["payload"][0]["message"]
        broken = {"query": 'subscription { parcelBroken(id: "p1") { id status } }'}
        await send(socket, {"id": "b", "type": "subscribe", "payload": broken})
        messages = await until_complete(socket, "b")
        assert messages[0]["payload"]["data"]["parcelBroken"]["status"] == "FIRST"
        assert "10.1.2.3" not in orjson.dumps(messages).decode()  # redacted by the router
        assert messages[-1]["type"] in ("error", "complete")
        query = {"query": '{ parcel(id: "p1") { id status location } }'}
        await send(socket, {"id": "q", "type": "subscribe", "payload": query})
        (answer, done) = await until_complete(socket, "q")
        assert answer["payload"]["data"]["parcel"]["status"] == "KNOWN"
        assert done == {"id": "q", "type": "complete"}


async def test_sse_events_have_id_lines_and_resume_from_last_event_id(server):
    async with httpx.AsyncClient(timeout=10) as http:
        async with http.stream("POST", server.http, json=ticks(2), headers=SSE) as response:
            stream = await read_sse(response)
        assert [(e.event, e.id) for e in stream.events] == [
            ("next", "1"),
            ("next", "2"),
            ("next", None),
            ("complete", None),
        ]
        assert stream.events[0].json()["data"]["parcelTicks"]["location"].startswith("hub ")
        headers = {**SSE, "Last-Event-ID": "1"}
        body = {"query": UPDATED, "variables": {"id": "p1"}}
        async with http.stream("POST", server.http, json=body, headers=headers) as response:
            resumed = await read_sse(response, stop_after=1)
    assert resumed.events[0].id == "3"
    assert resumed.events[0].json()["data"]["parcelUpdated"]["status"] == "IN_TRANSIT"


async def test_multipart_events_and_resume(server):
    async with httpx.AsyncClient(timeout=10) as http:
        async with http.stream("POST", server.http, json=ticks(2), headers=MULTIPART) as r:
            parts = await MultipartReader(r).read()
        body = {"query": UPDATED, "variables": {"id": "p1"}, "extensions": {"lastEventId": "1"}}
        async with http.stream("POST", server.http, json=body, headers=MULTIPART) as r:
            resumed = await MultipartReader(r).read(stop_after=2)
    *events, ended = [p["payload"] for p in parts if isinstance(p, dict) and "payload" in p]
    assert [e["extensions"]["eventId"] for e in events] == ["1", "2"]
    assert ended["errors"][0]["extensions"]["code"] == "SUBSCRIPTION_ENDED"
    assert events[0]["data"]["parcelTicks"]["carrier"] == "ACME"
    assert parts[-1] == "END"
    assert resumed[1]["payload"]["data"]["parcelUpdated"]["status"] == "IN_TRANSIT"
    assert resumed[1]["payload"]["extensions"]["eventId"] == "3"


async def test_an_expensive_subscription_is_refused_by_the_operation_limits(server):
    too_long = 'subscription { parcelTicks(id: "p1", count: 1) { ' + "id " * 2000 + "} }"
    async with (
        httpx.AsyncClient(timeout=10) as http,
        http.stream("POST", server.http, json={"query": too_long}, headers=SSE) as r,
    ):
        stream = await read_sse(r)
    assert [e.event for e in stream.events] == ["next", "complete"]
    assert stream.events[0].json()["errors"][0]["extensions"]["code"] == "OPERATION_LIMIT_EXCEEDED"


async def initialised(served: Served) -> ClientConnection:
    socket = await connect(served.ws, subprotocols=[PROTOCOL])  # type: ignore[list-item]
    await send(socket, {"type": "connection_init"})
    assert await receive(socket) == {"type": "connection_ack"}
    return socket


def ticked(message: dict[str, Any]) -> int:
    return int(message["payload"]["data"]["parcelTicks"]["status"].split()[1])


async def test_subscribers_sharing_an_upstream_each_get_every_later_event_once_in_order(server):
    """Twenty clients subscribe to the same ticks while they run: one upstream feeds them all,
    each client gets every tick from the first it sees to the last, once, in order, under its
    own operation id; one leaving early changes nothing for the others."""
    ticks = {"query": 'subscription { parcelTicks(id: "fan", count: 40, pause: 0.05) { status } }'}
    sockets = [await initialised(server) for _ in range(20)]
    for number, socket in enumerate(sockets):
        await send(socket, {"id": f"c{number}", "type": "subscribe", "payload": ticks})

    upstreams: list[int] = []

    async def read(number: int, socket: ClientConnection) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while True:
            message = await receive(socket)
            messages.append(message)
            if message["type"] in ("complete", "error"):
                return messages
            if number == 1 and len(messages) == 10:
                upstreams.append(parcels.ACTIVE_TICKS.count("fan"))
            if number == 0 and len(messages) == 5:  # the first client leaves after five ticks
                await send(socket, {"id": "c0", "type": "complete"})
                return messages

    received = await asyncio.gather(*(read(n, s) for n, s in enumerate(sockets)))
    for socket in sockets:
        await socket.close()
    assert upstreams == [1], "identical subscriptions did not share one upstream"
    for number, messages in enumerate(received[1:], start=1):
        assert {m["id"] for m in messages} == {f"c{number}"}
        *events, ended, done = messages
        numbers = [ticked(m) for m in events]
        assert numbers == list(range(numbers[0], 41)), f"c{number}: {numbers}"
        assert numbers[0] <= 30, f"c{number} joined late: its first tick was {numbers[0]}"
        assert ended["payload"]["errors"][0]["extensions"]["code"] == "SUBSCRIPTION_ENDED"
        assert done == {"id": f"c{number}", "type": "complete"}
    last_ticks = {orjson.dumps(messages[-3]["payload"]) for messages in received[1:]}
    assert len(last_ticks) == 1, "subscribers of one upstream saw different payloads"
    early = [ticked(m) for m in received[0]]
    assert early == list(range(early[0], early[0] + 5))


async def test_a_slow_consumer_of_the_router_is_told_and_disconnected(feed):
    settings = StreamSettings(max_queued_events=4, slow_consumer_grace_s=1.0)
    ticks = {
        "query": "subscription { parcelTicks("
        'id: "slow", count: 3000, pause: 0.005, padding: 60000) { status } }'
    }
    with parcels_served(feed, settings) as served:
        # No compression: the padding would shrink to nothing and never fill a buffer.
        socket = await connect(
            served.ws,
            subprotocols=[PROTOCOL],  # type: ignore[list-item]
            max_queue=1,
            compression=None,
        )
        async with socket:
            await send(socket, {"type": "connection_init"})
            assert await receive(socket) == {"type": "connection_ack"}
            await send(socket, {"id": "big", "type": "subscribe", "payload": ticks})
            # The client reads nothing until the server has given up on it (the upstream,
            # which would go on for 15 s, then closes: its only subscriber is gone).
            for _ in range(200):
                await asyncio.sleep(0.05)
                if "slow" not in parcels.ACTIVE_TICKS:
                    break
            else:
                raise AssertionError("the upstream of a client that reads nothing never closed")
            received: list[dict[str, Any]] = []
            try:
                while True:
                    received.append(orjson.loads(await asyncio.wait_for(socket.recv(), 5)))
            except ConnectionClosed as closed:
                assert closed.rcvd is not None and closed.rcvd.code == 1008
    notice = received[-1]
    assert notice["type"] == "error" and notice["id"] == "big"
    assert notice["payload"][0]["extensions"]["code"] == "SLOW_CONSUMER"
    numbers = [ticked(m) for m in received[:-1]]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) < 3000


async def test_a_connection_carrying_events_is_not_pinged_a_quiet_one_is(feed):
    ticks = {"query": 'subscription { parcelTicks(id: "beat", count: 12, pause: 0.1) { status } }'}
    with parcels_served(feed, StreamSettings(heartbeat_s=0.3)) as served:
        async with await initialised(served) as socket:
            await send(socket, {"id": "b", "type": "subscribe", "payload": ticks})
            messages = await until_complete(socket, "b")
            quiet = await receive(socket)
    assert [m["type"] for m in messages].count("next") == 13  # twelve ticks, then why it ended
    assert all(m["type"] != "ping" for m in messages), "pinged while events were flowing"
    assert quiet == {"type": "ping"}
