"""The client side of a subscription: order, bounded buffering, ending and leaving."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.router.subscriptions import (
    CONSUMER_TOO_SLOW,
    SubscriptionEvent,
    SubscriptionStream,
)
from federation.router.transports.websocket import websocket_url


def _drain(stream: SubscriptionStream) -> list[SubscriptionEvent]:
    async def read() -> list[SubscriptionEvent]:
        async with asyncio.timeout(5):
            return [event async for event in stream]

    return asyncio.run(read())


def _left(_stream: SubscriptionStream) -> None:
    return None


@settings(deadline=None, max_examples=60)
@given(
    capacity=st.integers(min_value=1, max_value=20),
    batches=st.lists(st.integers(min_value=0, max_value=25), max_size=8),
)
def test_events_arrive_in_order_until_the_reader_falls_behind_the_buffer(
    capacity: int, batches: list[int]
) -> None:
    """Between reads, ``batches[i]`` events arrive; the reader drains after each batch."""

    async def scenario() -> tuple[list[str], bool]:
        stream = SubscriptionStream(capacity, _left)
        received: list[str] = []
        overflowed = False
        number = 0
        for size in batches:
            for _ in range(size):
                number += 1
                if not stream.deliver(SubscriptionEvent({"data": {"n": number}}, str(number))):
                    overflowed = True
                    break
            if overflowed:
                break
            while stream._pending:  # read what is buffered, as a client between batches
                received.append((await anext(stream)).event_id or "")
        stream.end(None)
        async with asyncio.timeout(5):
            received.extend([event.event_id or CONSUMER_TOO_SLOW async for event in stream])
        return received, overflowed

    received, overflowed = asyncio.run(scenario())
    delivered = [r for r in received if r != CONSUMER_TOO_SLOW]
    assert delivered == [str(n) for n in range(1, len(delivered) + 1)], "order or gaps"
    assert overflowed == any(size > capacity for size in batches)
    assert (received[-1:] == [CONSUMER_TOO_SLOW]) == overflowed


def test_a_closed_stream_ends_for_a_reader_waiting_on_it() -> None:
    async def scenario() -> None:
        left: list[SubscriptionStream] = []
        stream = SubscriptionStream(4, left.append)
        waiting = asyncio.create_task(anext(stream))
        await asyncio.sleep(0)
        await stream.aclose()
        with pytest.raises(StopAsyncIteration):
            async with asyncio.timeout(5):
                await waiting
        assert left == [stream]
        assert not stream.deliver(SubscriptionEvent({"data": {}}))
        await stream.aclose()  # twice is harmless
        assert left == [stream]

    asyncio.run(scenario())


def test_the_final_event_is_read_before_the_stream_ends() -> None:
    stream = SubscriptionStream(2, _left)
    stream.deliver(SubscriptionEvent({"data": {"n": 1}}, "1"))
    stream.end(SubscriptionEvent({"data": None, "errors": [{"message": "ended"}]}))
    assert [e.event_id for e in _drain(stream)] == ["1", None]


@pytest.mark.parametrize(
    ("http", "ws"),
    [
        ("http://127.0.0.1:4001/graphql", "ws://127.0.0.1:4001/graphql"),
        ("https://parcels.example/graphql", "wss://parcels.example/graphql"),
        ("wss://already.example/", "wss://already.example/"),
    ],
)
def test_a_subgraph_url_gives_its_websocket_endpoint(http: str, ws: str) -> None:
    assert websocket_url(http) == ws
