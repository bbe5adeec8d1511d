"""graphql-sse (distinct connections) and Apollo's multipart subscriptions, read by httpx
streaming from uvicorn on loopback.

Subscriptions come from a scripted source with ``Router.subscribe``'s signature; queries run
on the real router over the test supergraph.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from federation.router import Router, Supergraph, build_app
from federation.router.limits import OperationLimits
from federation.router.streaming import Refusal, StreamSettings, StreamShutdown
from tests.federation.streams import ScriptedSource, Served, serving

SSE = {"accept": "text/event-stream"}
MULTIPART = {"accept": 'multipart/mixed;boundary="graphql";subscriptionSpec=1.0,application/json'}
TICKS = "subscription Ticks($count: Int) { tick }"
SETTINGS = StreamSettings(
    heartbeat_s=30, max_queued_events=4, slow_consumer_grace_s=1.0, max_body_bytes=4096
)


def serve(supergraph: Supergraph, source: ScriptedSource, settings: StreamSettings = SETTINGS):
    shutdown = StreamShutdown()
    router = Router(supergraph, limits=OperationLimits(max_depth=4, max_tokens=300))
    return serving(
        build_app(router, subscribe=source, stream_settings=settings, shutdown=shutdown), shutdown
    )


@pytest.fixture(scope="module")
def source() -> ScriptedSource:
    return ScriptedSource()


@pytest.fixture(scope="module")
def server(supergraph: Supergraph, source: ScriptedSource) -> Iterator[Served]:
    with serve(supergraph, source) as served:
        yield served


@dataclass
class SseEvent:
    event: str = ""
    data: str = ""
    id: str | None = None

    def json(self) -> Any:
        return orjson.loads(self.data)


@dataclass
class SseStream:
    events: list[SseEvent] = field(default_factory=list)
    comments: int = 0


async def read_sse(
    response: httpx.Response | AsyncIterator[str], *, stop_after: int | None = None
) -> SseStream:
    """The events of an SSE body (or of its remaining lines) as EventSource reads them."""
    lines = response.aiter_lines() if isinstance(response, httpx.Response) else response
    stream, current = SseStream(), SseEvent()
    async for line in lines:
        if line == "":
            if current.event or current.data:
                stream.events.append(current)
                if stop_after is not None and len(stream.events) >= stop_after:
                    return stream
            current = SseEvent()
        elif line.startswith(":"):
            stream.comments += 1
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                current.event = value
            elif name == "data":
                current.data = value
            elif name == "id":
                current.id = value
    return stream


class MultipartReader:
    """Each part's JSON, as Apollo Client splits a ``boundary="graphql"`` body; ``"END"``
    stands for the closing delimiter."""

    def __init__(self, response: httpx.Response) -> None:
        self.chunks = response.aiter_bytes()
        self.buffer = b""

    async def read(self, *, stop_after: int | None = None) -> list[Any]:
        parts: list[Any] = []
        while True:
            while (head := self.buffer.find(b"\r\n--graphql")) >= 0:
                if self.buffer[head + 11 : head + 13] == b"--":
                    parts.append("END")
                    return parts
                following = self.buffer.find(b"\r\n--graphql", head + 1)
                if following < 0:
                    break
                part, self.buffer = self.buffer[head:following], self.buffer[following:]
                headers, _, body = part.partition(b"\r\n\r\n")
                assert b"content-type: application/json" in headers.lower()
                parts.append(orjson.loads(body))
                if stop_after is not None and len(parts) >= stop_after:
                    return parts
            try:
                self.buffer += await anext(self.chunks)
            except StopAsyncIteration:
                return parts


async def read_multipart(response: httpx.Response) -> list[Any]:
    return await MultipartReader(response).read()


@asynccontextmanager
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield http


async def test_sse_streams_events_with_ids_then_completes(server, source):
    async with (
        client() as http,
        http.stream(
            "POST", server.http, json={"query": TICKS, "variables": {"count": 3}}, headers=SSE
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = await read_sse(response)
    assert [(e.event, e.id) for e in stream.events] == [
        ("next", "1"),
        ("next", "2"),
        ("next", "3"),
        ("complete", None),
    ]
    assert stream.events[0].json() == {"data": {"tick": 1}, "extensions": {"eventId": "1"}}
    assert stream.events[-1].data == ""


async def test_sse_resumes_after_the_last_event_id_header(server, source):
    params = {"query": TICKS, "variables": orjson.dumps({"count": 2}).decode()}
    async with (
        client() as http,
        http.stream(
            "GET", server.http, params=params, headers={**SSE, "Last-Event-ID": "17"}
        ) as response,
    ):
        stream = await read_sse(response)
    assert source.calls[-1].last_event_id == "17"
    assert [e.id for e in stream.events if e.event == "next"] == ["18", "19"]


async def test_sse_answers_a_query_with_one_event(server):
    async with (
        client() as http,
        http.stream(
            "POST", server.http, json={"query": '{ product(upc: "p1") { name } }'}, headers=SSE
        ) as response,
    ):
        stream = await read_sse(response)
    assert [e.event for e in stream.events] == ["next", "complete"]
    assert stream.events[0].json() == {"data": {"product": {"name": "Pallet jack"}}}


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("{ nope }", "GRAPHQL_VALIDATION_FAILED"),
        (
            '{ product(upc: "p1") { reviews { product { reviews { body } } } } }',
            "OPERATION_LIMIT_EXCEEDED",
        ),
        ("subscription { " + "tick " * 400 + "}", "OPERATION_LIMIT_EXCEEDED"),
    ],
)
async def test_sse_reports_a_refused_document_in_the_stream(server, query, code):
    async with (
        client() as http,
        http.stream("POST", server.http, json={"query": query}, headers=SSE) as response,
    ):
        assert response.status_code == 200
        stream = await read_sse(response)
    assert [e.event for e in stream.events] == ["next", "complete"]
    errors = stream.events[0].json()["errors"]
    assert errors and "data" not in stream.events[0].json()
    assert errors[0]["extensions"]["code"] == code


@pytest.mark.parametrize(
    ("script", "error"),
    [
        ({"refuse": True}, {"message": "No such shipment.", "extensions": {"code": "NOPE"}}),
        ({"invalid": True}, {"message": "Variable $id is missing."}),
    ],
)
async def test_sse_reports_a_subscription_the_router_refuses(server, script, error):
    body = {"query": TICKS, "variables": script}
    async with client() as http, http.stream("POST", server.http, json=body, headers=SSE) as r:
        stream = await read_sse(r)
    assert stream.events[0].json() == {"errors": [error]}
    assert stream.events[-1].event == "complete"


@pytest.mark.parametrize(
    ("method", "kwargs", "status"),
    [
        ("POST", {"content": b"{not json", "headers": {"content-type": "application/json"}}, 400),
        ("POST", {"json": ["query"]}, 400),
        ("POST", {"json": {"query": ""}}, 400),
        ("POST", {"json": {"query": TICKS, "variables": "x"}}, 400),
        ("POST", {"json": {"query": TICKS, "extensions": {"lastEventId": ["x"]}}}, 400),
        ("POST", {"content": b"query=x", "headers": {"content-type": "text/plain"}}, 415),
        ("POST", {"json": {"query": TICKS, "padding": "x" * 5000}}, 413),
        ("GET", {"params": {"query": TICKS, "variables": "{oops"}}, 400),
        (
            "GET",
            {"params": {"query": 'mutation { renameProduct(upc: "p1", name: "x") { name } }'}},
            405,
        ),
    ],
)
async def test_sse_refuses_a_malformed_request_before_streaming(server, method, kwargs, status):
    headers = {**SSE, **kwargs.pop("headers", {})}
    async with client() as http:
        response = await http.request(method, server.http, headers=headers, **kwargs)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["errors"][0]["message"]


async def test_sse_refuses_an_overlong_last_event_id(server):
    async with client() as http:
        response = await http.post(
            server.http, json={"query": TICKS}, headers={**SSE, "Last-Event-ID": "9" * 500}
        )
    assert response.status_code == 400


async def test_sse_heartbeats_while_quiet(supergraph):
    source = ScriptedSource()
    with serve(supergraph, source, StreamSettings(heartbeat_s=0.1)) as served:
        body = {"query": TICKS, "variables": {"count": 1, "hold": True}}
        async with client() as http, http.stream("POST", served.http, json=body, headers=SSE) as r:
            comments = 0
            async for line in r.aiter_lines():
                comments += line.startswith(":")
                if comments >= 4:
                    break
        assert await asyncio.to_thread(source.wait_closed)  # the client left: stream closed


async def test_sse_slow_consumer_is_told_and_disconnected(supergraph):
    source = ScriptedSource()
    with serve(supergraph, source) as served:
        body = {"query": TICKS, "variables": {"count": 3000, "size": 60_000, "hold": True}}
        async with client() as http, http.stream("POST", served.http, json=body, headers=SSE) as r:
            assert await asyncio.to_thread(source.wait_closed, 20)  # it gave up on us
            stream = await read_sse(r)
    ticks = [e.json()["data"]["tick"] for e in stream.events if e.id is not None]
    assert 0 < len(ticks) < 3000 and ticks == list(range(1, len(ticks) + 1))
    assert stream.events[-2].json()["errors"][0]["extensions"]["code"] == "SLOW_CONSUMER"
    assert stream.events[-1].event == "complete"


async def test_sse_stream_ends_without_complete_on_shutdown(supergraph):
    source = ScriptedSource()
    with serve(supergraph, source) as served:
        body = {"query": TICKS, "variables": {"count": 1, "hold": True}}
        async with client() as http, http.stream("POST", served.http, json=body, headers=SSE) as r:
            lines = r.aiter_lines()
            first = await read_sse(lines, stop_after=1)
            served.server.should_exit = True
            rest = await read_sse(lines)
    assert first.events[0].id == "1"
    assert [e.event for e in rest.events] == []  # no complete: EventSource reconnects
    assert source.wait_closed(1)


async def test_multipart_streams_payload_parts_between_heartbeats(server, source):
    body = {"query": TICKS, "variables": {"count": 2}}
    async with (
        client() as http,
        http.stream("POST", server.http, json=body, headers=MULTIPART) as r,
    ):
        assert r.status_code == 200
        content_type = r.headers["content-type"]
        parts = await read_multipart(r)
    assert content_type == 'multipart/mixed;boundary="graphql";subscriptionSpec="1.0"'
    assert parts == [
        {},
        {"payload": {"data": {"tick": 1}, "extensions": {"eventId": "1"}}},
        {"payload": {"data": {"tick": 2}, "extensions": {"eventId": "2"}}},
        "END",
    ]


async def test_multipart_resumes_from_extensions_last_event_id(server, source):
    body = {"query": TICKS, "variables": {"count": 1}, "extensions": {"lastEventId": "5"}}
    async with (
        client() as http,
        http.stream("POST", server.http, json=body, headers=MULTIPART) as r,
    ):
        parts = await read_multipart(r)
    assert source.calls[-1].last_event_id == "5"
    assert parts[1]["payload"]["extensions"]["eventId"] == "6"


async def test_multipart_query_gets_the_ordinary_json_answer(server):
    body = {"query": '{ product(upc: "p1") { name } }'}
    async with client() as http:
        response = await http.post(server.http, json=body, headers=MULTIPART)
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"data": {"product": {"name": "Pallet jack"}}}


async def test_multipart_refused_subscription_and_failure_end_the_stream(server):
    async with client() as http:
        body = {"query": TICKS, "variables": {"refuse": True}}
        async with http.stream("POST", server.http, json=body, headers=MULTIPART) as r:
            refused = await read_multipart(r)
        body = {"query": TICKS, "variables": {"count": 1, "fail": True}}
        async with http.stream("POST", server.http, json=body, headers=MULTIPART) as r:
            failed = await read_multipart(r)
    assert refused[1] == {
        "payload": {"errors": [{"message": "No such shipment.", "extensions": {"code": "NOPE"}}]}
    }
    assert refused[-1] == "END"
    assert failed[-2]["payload"] is None
    assert failed[-2]["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "10.0.0.7" not in orjson.dumps(failed).decode()


async def test_multipart_heartbeats_and_shutdown_notice(supergraph):
    source = ScriptedSource()
    with serve(supergraph, source, StreamSettings(heartbeat_s=0.1)) as served:
        body = {"query": TICKS, "variables": {"count": 1, "hold": True}}
        async with (
            client() as http,
            http.stream("POST", served.http, json=body, headers=MULTIPART) as r,
        ):
            reader = MultipartReader(r)
            first = await reader.read(stop_after=4)
            served.server.should_exit = True
            rest = await reader.read()
    assert first[1]["payload"]["data"] == {"tick": 1}
    assert first[2:] == [{}, {}]
    assert rest[-2]["payload"] is None
    assert rest[-2]["errors"][0]["extensions"]["code"] == "SHUTTING_DOWN"
    assert rest[-1] == "END"


async def test_a_stream_is_refused_while_shutting_down(supergraph):
    with serve(supergraph, ScriptedSource()) as served:
        served.shutdown.begin()
        async with client() as http:
            response = await http.post(served.http, json={"query": TICKS}, headers=SSE)
    assert response.status_code == 503


async def test_an_apps_refusal_answers_its_status_before_any_stream(supergraph):
    async def refuse(connection: object, in_band: object) -> Refusal:
        return Refusal(4403, "not for this client")

    shutdown = StreamShutdown()
    app = build_app(
        Router(supergraph), subscribe=ScriptedSource(), identify=refuse, shutdown=shutdown
    )
    with serving(app, shutdown) as served:
        async with client() as http:
            response = await http.post(served.http, json={"query": TICKS}, headers=SSE)
        async with await connect(served.ws, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
            await socket.send('{"type": "connection_init"}')
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(socket.recv(), 5)
    assert response.status_code == 403
    assert response.json()["errors"][0] == {
        "message": "not for this client",
        "extensions": {"code": "FORBIDDEN"},
    }
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4403, "not for this client")
