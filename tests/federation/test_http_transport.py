"""The HTTP transport against a scripted HTTP/1.1 server: pooling, framing, deduplication."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace

import orjson
import pytest
from opentelemetry.sdk.trace import TracerProvider

from federation.router import (
    Forwarded,
    HeaderRules,
    HttpTransport,
    Propagate,
    SubgraphError,
    SubgraphInvalidResponse,
    SubgraphRequest,
    SubgraphTimeout,
)

pytestmark = pytest.mark.asyncio


@dataclass
class _Server:
    """Answers every POST with ``{"data": {"calls": n}}`` after ``delay`` seconds.

    Paths change the framing: ``/chunked`` sends a chunked body, ``/close`` closes the
    connection after answering, ``/broken`` answers with something that is not GraphQL.
    """

    port: int = 0
    delay: float = 0.05
    calls: int = 0
    connections: int = 0
    heads: list[str] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        on_this_connection = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = dict(line.lower().split(": ", 1) for line in lines[1:] if line)
                await reader.readexactly(int(headers["content-length"]))
                on_this_connection += 1
                if path == "/drop-second" and on_this_connection == 2:
                    break
                self.calls += 1
                self.heads.append(head.decode("latin-1"))
                await asyncio.sleep(self.delay)
                body = orjson.dumps({"data": {"calls": self.calls}})
                if path == "/broken":
                    body = b"<html>oops</html>"
                if path == "/chunked":
                    half = len(body) // 2
                    writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
                    for part in (body[:half], body[half:]):
                        writer.write(b"%x\r\n%s\r\n" % (len(part), part))
                    writer.write(b"0\r\n\r\n")
                elif path == "/eof":
                    writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n" + body)
                    await writer.drain()
                    break
                else:
                    extra = b"connection: close\r\n" if path == "/close" else b""
                    writer.write(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n%s"
                        b"content-length: %d\r\n\r\n%s" % (extra, len(body), body)
                    )
                await writer.drain()
                if path == "/close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def url(self, path: str = "/graphql") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
async def server() -> AsyncIterator[_Server]:
    state = _Server()
    listener = await asyncio.start_server(state.handle, "127.0.0.1", 0)
    state.port = listener.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        listener.close()


FORWARD_AUTHORIZATION = HeaderRules((Propagate("authorization"),))


def _request(
    query: str = "{ calls }", *, mutation: bool = False, headers: dict[str, str] | None = None
) -> SubgraphRequest:
    return SubgraphRequest("s", query, {}, headers or {}, None, mutation)


async def test_identical_concurrent_queries_share_one_call(server: _Server) -> None:
    transport = HttpTransport("s", server.url(), header_rules=FORWARD_AUTHORIZATION)
    auth = {"Authorization": "Bearer a"}
    results = await asyncio.gather(*(transport.execute(_request(headers=auth)) for _ in range(5)))
    await transport.aclose()
    assert server.calls == 1, "five identical queries in flight should make one upstream call"
    assert all(result == {"data": {"calls": 1}} for result in results)
    assert len({id(result) for result in results}) == 5, "each caller gets its own objects"


async def test_queries_with_different_credentials_are_not_shared(server: _Server) -> None:
    transport = HttpTransport("s", server.url(), header_rules=FORWARD_AUTHORIZATION)
    requests = [_request(headers={"authorization": f"Bearer {user}"}) for user in ("a", "b")]
    await asyncio.gather(*(transport.execute(request) for request in requests))
    await transport.aclose()
    assert server.calls == 2
    assert sorted(h.split("authorization: ")[1].split("\r\n")[0] for h in server.heads) == [
        "Bearer a",
        "Bearer b",
    ]


async def test_mutations_are_never_shared(server: _Server) -> None:
    transport = HttpTransport("s", server.url())
    request = _request("mutation { calls }", mutation=True)
    await asyncio.gather(*(transport.execute(request) for _ in range(3)))
    await transport.aclose()
    assert server.calls == 3


async def test_deduplication_can_be_turned_off(server: _Server) -> None:
    transport = HttpTransport("s", server.url(), deduplicate=False)
    await asyncio.gather(*(transport.execute(_request()) for _ in range(3)))
    await transport.aclose()
    assert server.calls == 3


async def test_a_shared_call_after_completion_is_made_again(server: _Server) -> None:
    transport = HttpTransport("s", server.url())
    first = await transport.execute(_request())
    second = await transport.execute(_request())
    await transport.aclose()
    assert (first, second) == ({"data": {"calls": 1}}, {"data": {"calls": 2}})


async def test_connections_are_kept_alive_and_bounded(server: _Server) -> None:
    server.delay = 0.01
    transport = HttpTransport("s", server.url(), max_connections=2, deduplicate=False)
    await asyncio.gather(*(transport.execute(_request(f"{{ calls{i}: calls }}")) for i in range(6)))
    for _ in range(3):
        await transport.execute(_request())
    await transport.aclose()
    assert server.calls == 9
    assert server.connections == 2


async def test_chunked_responses_are_read(server: _Server) -> None:
    transport = HttpTransport("s", server.url("/chunked"))
    assert await transport.execute(_request()) == {"data": {"calls": 1}}
    await transport.aclose()


async def test_a_body_ended_by_closing_the_connection_is_read(server: _Server) -> None:
    transport = HttpTransport("s", server.url("/eof"))
    for expected in (1, 2):
        assert await transport.execute(_request()) == {"data": {"calls": expected}}
    await transport.aclose()


async def test_a_query_on_a_connection_dropped_by_the_server_is_sent_again(
    server: _Server,
) -> None:
    server.delay = 0
    transport = HttpTransport("s", server.url("/drop-second"))
    assert await transport.execute(_request()) == {"data": {"calls": 1}}
    assert await transport.execute(_request()) == {"data": {"calls": 2}}
    await transport.aclose()
    assert server.connections == 2


async def test_a_mutation_on_a_dropped_connection_is_not_sent_again(server: _Server) -> None:
    server.delay = 0
    transport = HttpTransport("s", server.url("/drop-second"))
    await transport.execute(_request("mutation { calls }", mutation=True))
    with pytest.raises(SubgraphError, match="The s service is unavailable"):
        await transport.execute(_request("mutation { calls }", mutation=True))
    await transport.aclose()
    assert server.calls == 1


async def test_a_connection_the_server_closes_is_replaced(server: _Server) -> None:
    transport = HttpTransport("s", server.url("/close"))
    for expected in (1, 2, 3):
        assert await transport.execute(_request()) == {"data": {"calls": expected}}
    await transport.aclose()
    assert server.connections == 3


async def test_timeouts_and_bad_answers_are_subgraph_errors(server: _Server) -> None:
    server.delay = 0.5
    slow = HttpTransport("s", server.url(), timeout=0.1)
    with pytest.raises(SubgraphTimeout):
        await slow.execute(_request())
    await slow.aclose()
    server.delay = 0
    broken = HttpTransport("s", server.url("/broken"))
    with pytest.raises(SubgraphInvalidResponse, match="not GraphQL"):
        await broken.execute(_request())
    await broken.aclose()


async def test_header_values_cannot_inject_lines(server: _Server) -> None:
    rules = HeaderRules((Propagate("x-tenant"),))
    transport = HttpTransport("s", server.url(), header_rules=rules)
    await transport.execute(_request(headers={"x-tenant": "a\r\nx-admin: yes"}))
    await transport.aclose()
    assert "x-admin" not in server.heads[0] and "x-tenant" not in server.heads[0]


def _traceparent(head: str) -> str:
    return head.split("traceparent: ")[1].split("\r\n")[0]


async def test_the_current_span_is_the_parent_the_subgraph_is_told(server: _Server) -> None:
    forwarded_trace = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    request = replace(_request(), forwarded=Forwarded(trace=(("traceparent", forwarded_trace),)))
    transport = HttpTransport("s", server.url(), deduplicate=False)
    await transport.execute(request)
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("fetch s") as span:
        await transport.execute(request)
        context = span.get_span_context()
    await transport.aclose()
    untraced, traced = (_traceparent(head) for head in server.heads)
    assert untraced == forwarded_trace, "without a span the forwarded trace goes as it is"
    assert traced == f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
    assert server.heads[1].count("traceparent") == 1
