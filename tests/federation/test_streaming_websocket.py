"""graphql-transport-ws, spoken by a real WebSocket client to uvicorn on loopback.

Subscriptions come from a scripted source with ``Router.subscribe``'s signature; queries and
mutations run on the real router over the test supergraph.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from federation.router import Router, Supergraph, build_app
from federation.router.limits import OperationLimits
from federation.router.streaming import StreamSettings, StreamShutdown
from tests.federation.streams import ScriptedSource, Served, serving

PROTOCOL = "graphql-transport-ws"
TICKS = "subscription Ticks($count: Int) { tick }"
SETTINGS = StreamSettings(
    heartbeat_s=30,
    connection_init_timeout_s=1.0,
    max_subscriptions_per_connection=3,
    max_message_bytes=4096,
    max_queued_events=4,
    slow_consumer_grace_s=1.0,
)


def serve(
    supergraph: Supergraph, source: ScriptedSource, settings: StreamSettings = SETTINGS
) -> Any:
    shutdown = StreamShutdown()
    router = Router(supergraph, limits=OperationLimits(max_depth=4, max_tokens=300))
    app = build_app(router, subscribe=source, stream_settings=settings, shutdown=shutdown)
    return serving(app, shutdown)


@pytest.fixture(scope="module")
def source() -> ScriptedSource:
    return ScriptedSource()


@pytest.fixture(scope="module")
def server(supergraph: Supergraph, source: ScriptedSource) -> Iterator[Served]:
    with serve(supergraph, source) as served:
        yield served


async def receive(socket: ClientConnection) -> dict[str, Any]:
    return orjson.loads(await asyncio.wait_for(socket.recv(), 5))


async def send(socket: ClientConnection, message: dict[str, Any]) -> None:
    await socket.send(orjson.dumps(message).decode())


async def closed_with(socket: ClientConnection) -> tuple[int | None, str]:
    """The close code and reason the server sent (after any messages before it)."""
    try:
        while True:
            await asyncio.wait_for(socket.recv(), 5)
    except ConnectionClosed as closed:
        received = closed.rcvd
        return (received.code, received.reason) if received else (None, "")


async def initialised(served: Served, payload: dict[str, Any] | None = None) -> ClientConnection:
    socket = await connect(served.ws, subprotocols=[PROTOCOL])  # type: ignore[list-item]
    message: dict[str, Any] = {"type": "connection_init"}
    if payload is not None:
        message["payload"] = payload
    await send(socket, message)
    assert await receive(socket) == {"type": "connection_ack"}
    return socket


async def until_complete(socket: ClientConnection, operation_id: str) -> list[dict[str, Any]]:
    messages = []
    for _ in range(100):
        message = await receive(socket)
        messages.append(message)
        if message.get("id") == operation_id and message["type"] in ("complete", "error"):
            return messages
    raise AssertionError(f"no complete for {operation_id}: {messages}")


async def test_a_subscription_streams_each_event_with_its_id_then_completes(server, source):
    async with await initialised(server) as socket:
        assert socket.subprotocol == PROTOCOL
        payload = {"query": TICKS, "variables": {"count": 3}}
        await send(socket, {"id": "s1", "type": "subscribe", "payload": payload})
        messages = await until_complete(socket, "s1")
    assert messages == [
        {
            "id": "s1",
            "type": "next",
            "payload": {"data": {"tick": n}, "extensions": {"eventId": str(n)}},
        }
        for n in (1, 2, 3)
    ] + [{"id": "s1", "type": "complete"}]
    assert source.calls[-1].last_event_id is None
    for _ in range(100):  # the connection's end is noticed and everything it held released
        if server.shutdown.open_streams == 0:
            break
        await asyncio.sleep(0.05)
    assert server.shutdown.open_streams == 0


async def test_queries_and_mutations_answer_once_then_complete(server):
    async with await initialised(server) as socket:
        query = {"query": '{ product(upc: "p1") { name } }'}
        await send(socket, {"id": "q", "type": "subscribe", "payload": query})
        assert await until_complete(socket, "q") == [
            {"id": "q", "type": "next", "payload": {"data": {"product": {"name": "Pallet jack"}}}},
            {"id": "q", "type": "complete"},
        ]
        mutation = {"query": 'mutation { renameProduct(upc: "p9", name: "x") { name } }'}
        await send(socket, {"id": "m", "type": "subscribe", "payload": mutation})
        answered = await until_complete(socket, "m")
        assert answered[0]["type"] == "next" and "data" in answered[0]["payload"]
        assert answered[-1] == {"id": "m", "type": "complete"}


async def test_an_invalid_or_too_expensive_document_is_an_error_message(server):
    async with await initialised(server) as socket:
        await send(socket, {"id": "v", "type": "subscribe", "payload": {"query": "{ nope }"}})
        (error,) = await until_complete(socket, "v")
        assert error["type"] == "error" and "nope" in error["payload"][0]["message"]
        deep = '{ product(upc: "p1") { reviews { product { reviews { body } } } } }'
        await send(socket, {"id": "d", "type": "subscribe", "payload": {"query": deep}})
        (error,) = await until_complete(socket, "d")
        assert error["payload"][0]["extensions"]["code"] == "OPERATION_LIMIT_EXCEEDED"
        endless = "subscription { " + "tick " * 400 + "}"
        await send(socket, {"id": "e", "type": "subscribe", "payload": {"query": endless}})
        (error,) = await until_complete(socket, "e")
        assert error["payload"][0]["extensions"]["code"] == "OPERATION_LIMIT_EXCEEDED"


async def test_a_subscription_refused_by_the_router_is_one_error_message(server):
    async with await initialised(server) as socket:
        payload = {"query": TICKS, "variables": {"refuse": True}}
        await send(socket, {"id": "r", "type": "subscribe", "payload": payload})
        assert await until_complete(socket, "r") == [
            {
                "id": "r",
                "type": "error",
                "payload": [{"message": "No such shipment.", "extensions": {"code": "NOPE"}}],
            }
        ]


async def test_a_subscription_the_router_cannot_run_is_one_error_message(server):
    async with await initialised(server) as socket:
        payload = {"query": TICKS, "variables": {"invalid": True}}
        await send(socket, {"id": "i", "type": "subscribe", "payload": payload})
        assert await until_complete(socket, "i") == [
            {"id": "i", "type": "error", "payload": [{"message": "Variable $id is missing."}]}
        ]


async def test_a_failing_stream_reports_a_neutral_error(server):
    async with await initialised(server) as socket:
        payload = {"query": TICKS, "variables": {"count": 1, "fail": True}}
        await send(socket, {"id": "f", "type": "subscribe", "payload": payload})
        messages = await until_complete(socket, "f")
    assert messages[-1]["type"] == "error"
    assert messages[-1]["payload"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "10.0.0.7" not in orjson.dumps(messages).decode()


async def test_resume_ids_come_from_the_connection_or_the_subscription(server, source):
    async with await initialised(server, {"lastEventId": "41"}) as socket:
        payload = {"query": TICKS, "variables": {"count": 1}}
        await send(socket, {"id": "a", "type": "subscribe", "payload": payload})
        (first, _) = await until_complete(socket, "a")
        assert source.calls[-1].last_event_id == "41"
        assert first["payload"]["extensions"]["eventId"] == "42"
        own = {**payload, "extensions": {"lastEventId": "7"}}
        await send(socket, {"id": "b", "type": "subscribe", "payload": own})
        (first, _) = await until_complete(socket, "b")
        assert source.calls[-1].last_event_id == "7"
        assert first["payload"]["extensions"]["eventId"] == "8"


async def test_the_client_completing_a_subscription_closes_its_stream(server, source):
    async with await initialised(server) as socket:
        payload = {"query": TICKS, "variables": {"count": 1, "hold": True}}
        await send(socket, {"id": "h", "type": "subscribe", "payload": payload})
        assert (await receive(socket))["type"] == "next"
        await send(socket, {"id": "h", "type": "complete"})
        assert await asyncio.to_thread(source.wait_closed)
        await send(
            socket,
            {"id": "h", "type": "subscribe", "payload": {**payload, "variables": {"count": 1}}},
        )
        assert (await until_complete(socket, "h"))[-1]["type"] == "complete"


async def test_ping_is_answered_with_pong(server):
    async with await connect(server.ws, subprotocols=[PROTOCOL]) as socket:  # type: ignore[list-item]
        await send(socket, {"type": "ping", "payload": {"at": 1}})
        assert await receive(socket) == {"type": "pong", "payload": {"at": 1}}


async def test_too_many_operations_on_one_connection_are_refused_one_by_one(server, source):
    async with await initialised(server) as socket:
        held = {"query": TICKS, "variables": {"count": 0, "hold": True}}
        for number in range(3):
            await send(socket, {"id": f"h{number}", "type": "subscribe", "payload": held})
        await send(socket, {"id": "over", "type": "subscribe", "payload": held})
        refused = await receive(socket)
        assert refused["id"] == "over" and refused["type"] == "error"
        assert refused["payload"][0]["extensions"]["code"] == "TOO_MANY_OPERATIONS"
        await send(socket, {"id": "h0", "type": "complete"})
        assert await asyncio.to_thread(source.wait_closed)
        await send(socket, {"id": "again", "type": "subscribe", "payload": {"query": TICKS}})
        assert (await until_complete(socket, "again"))[-1]["type"] == "complete"


@pytest.mark.parametrize(
    ("messages", "code"),
    [
        ([{"type": "subscribe", "id": "1", "payload": {"query": TICKS}}], 4401),
        ([{"type": "connection_init"}, {"type": "connection_init"}], 4429),
        (["{not json"], 4400),
        ([[1, 2]], 4400),
        ([{"type": "unknown"}], 4400),
        ([{"type": "connection_init", "payload": "token"}], 4400),
        ([{"type": "connection_init", "payload": {"lastEventId": {"a": 1}}}], 4400),
        ([{"type": "connection_init"}, {"type": "subscribe", "payload": {"query": TICKS}}], 4400),
        ([{"type": "connection_init"}, {"type": "subscribe", "id": "1", "payload": {}}], 4400),
        (
            [
                {"type": "connection_init"},
                {"type": "subscribe", "id": "1", "payload": {"query": TICKS, "variables": [1]}},
            ],
            4400,
        ),
        ([{"type": "connection_init"}, {"type": "complete"}], 4400),
        ([{"type": "connection_init"}, {"type": "next", "id": "1", "payload": {}}], 4400),
        (
            [
                {"type": "connection_init"},
                {"type": "subscribe", "id": "x" * 200, "payload": {"query": TICKS}},
            ],
            4400,
        ),
        ([b"\x00binary"], 4400),
        (["x" * 5000], 1009),
        ([{"type": "connection_init", "payload": {"padding": "é" * 2500}}], 1009),
    ],
)
async def test_protocol_violations_close_with_their_codes(server, messages, code):
    async with await connect(server.ws, subprotocols=[PROTOCOL]) as socket:  # type: ignore[list-item]
        for message in messages:
            if isinstance(message, bytes | str):
                await socket.send(message)
            else:
                await send(socket, message)
        closed, _ = await closed_with(socket)
    assert closed == code


async def test_a_duplicate_subscriber_id_closes_with_4409(server):
    async with await initialised(server) as socket:
        held = {"query": TICKS, "variables": {"count": 0, "hold": True}}
        await send(socket, {"id": "same", "type": "subscribe", "payload": held})
        await send(socket, {"id": "same", "type": "subscribe", "payload": held})
        assert await closed_with(socket) == (4409, "Subscriber for same already exists")


async def test_no_connection_init_in_time_closes_with_4408(server):
    async with await connect(server.ws, subprotocols=[PROTOCOL]) as socket:  # type: ignore[list-item]
        assert await closed_with(socket) == (4408, "Connection initialisation timeout")


async def test_another_subprotocol_is_closed_with_4406(server):
    async with await connect(server.ws, subprotocols=["graphql-ws"]) as socket:  # type: ignore[list-item]
        assert (await closed_with(socket))[0] == 4406


async def test_the_server_pings_a_quiet_connection(supergraph):
    with serve(supergraph, ScriptedSource(), StreamSettings(heartbeat_s=0.2)) as served:
        async with await initialised(served) as socket:
            assert await receive(socket) == {"type": "ping"}
            await send(socket, {"type": "pong"})
            assert await receive(socket) == {"type": "ping"}


async def test_a_slow_consumer_is_told_and_disconnected(supergraph):
    source = ScriptedSource()
    with serve(supergraph, source) as served:
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
            payload = {"query": TICKS, "variables": {"count": 2000, "size": 60_000, "hold": True}}
            await send(socket, {"id": "big", "type": "subscribe", "payload": payload})
            # The client reads nothing until the server has given up on it.
            assert await asyncio.to_thread(source.wait_closed, 20)
            received: list[dict[str, Any]] = []
            try:
                while True:
                    received.append(orjson.loads(await asyncio.wait_for(socket.recv(), 5)))
            except ConnectionClosed as closed:
                assert closed.rcvd is not None and closed.rcvd.code == 1008
    assert len(received) < 2000
    notice = received[-1]
    assert notice["type"] == "error" and notice["id"] == "big"
    assert notice["payload"][0]["extensions"]["code"] == "SLOW_CONSUMER"
    ticks = [m["payload"]["data"]["tick"] for m in received[:-1]]
    assert ticks == list(range(1, len(ticks) + 1))


async def test_a_shutdown_closes_every_connection_with_1001(supergraph):
    source = ScriptedSource()
    with serve(supergraph, source) as served:
        sockets = [await initialised(served) for _ in range(2)]
        payload = {"query": TICKS, "variables": {"count": 1, "hold": True}}
        for socket in sockets:
            await send(socket, {"id": "live", "type": "subscribe", "payload": payload})
            assert (await receive(socket))["type"] == "next"
        served.server.should_exit = True  # uvicorn stops as on SIGTERM
        codes = [await closed_with(socket) for socket in sockets]
    assert codes == [(1001, "Server shutting down")] * 2
    assert all(source.wait_closed(1) for _ in sockets)


@pytest.fixture(autouse=True)
def _bounded_threads() -> Iterator[None]:
    before = threading.active_count()
    yield
    assert threading.active_count() <= before + 1
