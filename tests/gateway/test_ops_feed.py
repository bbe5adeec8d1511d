"""The dashboard's live feed and its hour of history, on their own: one snapshot build shared
by every reader, a stream that stops reading dropped without a backlog, and rings that stay
the same size whatever the traffic."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from datetime import UTC, datetime, timedelta

import orjson

from domain.events import EventEnvelope, SourceSystem
from federation.router.streaming import StreamShutdown
from gateway.ops.feed import SnapshotFeed, SnapshotStream
from gateway.ops.history import MAX_CLIENTS, MINUTES, ClientTraffic, EventFlow
from policies.principal import Principal
from stores.event_log import StoredEvent

BIG = {"letters": ["x" * 1000] * 50}  # about 50 KB of JSON per snapshot


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def stored(position: int, source: str, occurred_ago_s: float, now: float) -> StoredEvent:
    occurred = datetime.fromtimestamp(now, UTC) - timedelta(seconds=occurred_ago_s)
    return StoredEvent(
        position,
        EventEnvelope(
            event_id=f"e{position}",
            event_type="shipment.dispatched",
            source=SourceSystem.WMS,
            source_name=source,
            aggregate_type="shipment",
            aggregate_id=f"T{position}",
            occurred_at=occurred,
            received_at=occurred,
            correlation_id="c",
        ),
    )


async def test_every_reader_shares_one_build_per_refresh():
    builds = 0

    async def build() -> dict[str, object]:
        nonlocal builds
        builds += 1
        await asyncio.sleep(0.01)
        return {"n": builds}

    feed = SnapshotFeed(build, refresh_s=0.2, max_streams=4, send_timeout_s=1.0)
    first = await asyncio.gather(*(feed.current() for _ in range(20)))
    assert builds == 1 and {snapshot.version for snapshot in first} == {1}
    newer = await asyncio.gather(*(feed.after(1) for _ in range(20)))
    assert builds == 2 and {snapshot.version for snapshot in newer} == {2}


async def test_a_stream_whose_client_never_reads_is_dropped_and_holds_no_backlog():
    """The server's write to a client that does not read never completes: the stream waits
    on that one write, builds no queue meanwhile, and is dropped after `send_timeout_s`;
    another stream on the same feed gets every refresh all along."""

    async def build() -> dict[str, object]:
        return BIG

    feed = SnapshotFeed(build, refresh_s=0.05, max_streams=4, send_timeout_s=0.5)
    shutdown = StreamShutdown()
    never = asyncio.Event()

    async def receive() -> dict[str, object]:
        await never.wait()
        return {"type": "http.disconnect"}

    stalled_bytes = 0

    async def stalled_send(message: dict[str, object]) -> None:
        nonlocal stalled_bytes
        stalled_bytes += len(message.get("body", b""))  # type: ignore[arg-type]
        if message["type"] == "http.response.body" and b"event: snapshot" in message["body"]:  # type: ignore[operator]
            await never.wait()  # the socket's buffers are full: this write never finishes

    versions: list[int] = []

    async def reading_send(message: dict[str, object]) -> None:
        body = message.get("body", b"")
        if b"id: " in body:  # type: ignore[operator]
            versions.append(int(body.split(b"\n")[0][4:]))  # type: ignore[union-attr]

    def stream() -> SnapshotStream:
        return SnapshotStream(feed, shutdown, until=feed.now() + 30, headers=[])

    scope = {"type": "http"}
    reader = asyncio.create_task(stream()(scope, receive, reading_send))
    tracemalloc.start()
    try:
        await asyncio.sleep(0.1)
        gc.collect()
        before, _ = tracemalloc.get_traced_memory()
        stalled = asyncio.create_task(stream()(scope, receive, stalled_send))
        await asyncio.sleep(0.3)
        assert feed.open_streams == 2
        gc.collect()
        during, _ = tracemalloc.get_traced_memory()
        await asyncio.wait_for(stalled, 2.0)
    finally:
        tracemalloc.stop()
    assert feed.dropped_slow == 1 and feed.open_streams == 1
    # One snapshot handed to the stalled write, and not one more queued behind it.
    assert stalled_bytes < 2 * len(orjson.dumps(BIG)), stalled_bytes
    assert during - before < 1_000_000, f"{during - before} bytes grew while stalled"
    seen = len(versions)
    await asyncio.sleep(0.3)
    assert len(versions) > seen >= 5, versions
    shutdown.begin()
    await asyncio.wait_for(reader, 2.0)
    assert feed.open_streams == 0


async def test_a_stream_ends_when_its_session_does_and_when_the_server_stops():
    async def build() -> dict[str, object]:
        return {}

    feed = SnapshotFeed(build, refresh_s=0.05, max_streams=4, send_timeout_s=1.0)
    shutdown = StreamShutdown()
    messages: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        messages.append(message)

    ending = SnapshotStream(feed, shutdown, until=feed.now() + 0.3, headers=[])
    await asyncio.wait_for(ending({"type": "http"}, receive, send), 2.0)
    assert messages[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert b"retry: 3000" in messages[1]["body"]  # type: ignore[operator]
    endless = asyncio.create_task(
        SnapshotStream(feed, shutdown, until=feed.now() + 3600, headers=[])(
            {"type": "http"}, receive, send
        )
    )
    await asyncio.sleep(0.1)
    await shutdown.drain(2.0)
    await asyncio.wait_for(endless, 1.0)
    assert feed.open_streams == 0


def test_each_event_counts_once_with_its_lag_in_its_minute():
    clock = Clock()
    flow = EventFlow(clock)
    batch = [stored(1, "WMS", 30, clock.now), stored(2, "WMS", 90, clock.now)]
    flow.observe("shipments", batch)
    flow.observe("orders", batch)  # a second consumer applying the same events
    flow.observe("orders", [stored(3, "SwiftParcel", 5, clock.now)])
    wms = flow.by_source()["WMS"]
    assert wms.applied[-1] == 2 and sum(wms.applied) == 2
    assert wms.lag_max_s[-1] == 90 and wms.lag_mean_s[-1] == 60
    assert flow.by_source()["SwiftParcel"].applied[-1] == 1
    clock.now += 60 * MINUTES  # an hour later the ring has forgotten it
    assert sum(flow.by_source()["WMS"].applied) == 0
    assert len(flow.minutes()) == MINUTES


def test_client_traffic_keeps_a_bounded_number_of_clients():
    clock = Clock()
    traffic = ClientTraffic(clock)
    busy = Principal("busy", "C-1001")
    for n in range(10):
        traffic.record(busy, rejected=n >= 7)
    for n in range(MAX_CLIENTS + 50):
        traffic.record(Principal(f"client-{n}", "C-1002"), rejected=False)
        traffic.record(busy, rejected=False)  # keeps being seen, so it is never forgotten
    assert len(traffic._rings) == MAX_CLIENTS
    (top,) = traffic.top(1)
    assert top.client_id == "busy" and top.requests_last_hour == 10 + MAX_CLIENTS + 50
    assert top.rejections_last_hour == 3
    clock.now += 3600 + 60
    assert traffic.top(5) == []
