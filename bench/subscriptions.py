"""Subscription fan-out through the router: one upstream, many identical subscribers.

``python -m bench.subscriptions --subscribers 1000 --events 200``

Two in-process subgraphs: ``feed`` owns ``Parcel`` and the ``parcelUpdated`` subscription,
``places`` adds ``Parcel.location`` (an entity fetch per event). Every subscriber asks the
same thing with the same sharing key, so the router opens one upstream and resolves each
event once; the run reports how many upstream subscriptions and entity fetches that took,
events per second delivered to all subscribers, and the delay from publishing an event to
each subscriber reading it (p50, p99). Client transports (WebSocket, SSE) come on top.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import AsyncGenerator
from typing import Any

import strawberry

from federation.composition import SubgraphSource, compose
from federation.router import InProcessTransport, Router, SubgraphRequest, Supergraph


@strawberry.federation.type(keys=["id"])
class Parcel:
    id: strawberry.ID
    status: str


@strawberry.type
class FeedQuery:
    @strawberry.field
    def parcel(self, id: strawberry.ID) -> Parcel:
        return Parcel(id=id, status="KNOWN")


@strawberry.type
class FeedSubscription:
    @strawberry.subscription
    async def parcel_updated(
        self, info: strawberry.Info, id: strawberry.ID
    ) -> AsyncGenerator[Parcel, None]:
        queue: asyncio.Queue[str | None] = info.context["queue"]
        while (status := await queue.get()) is not None:
            yield Parcel(id=id, status=status)


@strawberry.federation.type(keys=["id"], name="Parcel")
class PlacedParcel:
    id: strawberry.ID

    @strawberry.field
    def location(self) -> str:
        return "hub"

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> PlacedParcel:
        return PlacedParcel(id=id)


@strawberry.type
class PlacesQuery:
    @strawberry.field
    def places_version(self) -> str:
        return "1"


FEED = strawberry.federation.Schema(query=FeedQuery, subscription=FeedSubscription, types=[Parcel])
PLACES = strawberry.federation.Schema(query=PlacesQuery, types=[PlacedParcel])
QUERY = 'subscription { parcelUpdated(id: "p1") { id status location } }'


class _Counted:
    def __init__(self, name: str, schema: Any) -> None:
        self.inner = InProcessTransport(name, schema)
        self.queries = 0
        self.subscriptions = 0

    async def execute(self, request: SubgraphRequest) -> dict[str, Any]:
        self.queries += 1
        return await self.inner.execute(request)

    def subscribe(self, request: SubgraphRequest, last_event_id: str | None = None) -> Any:
        self.subscriptions += 1
        return self.inner.subscribe(request, last_event_id)

    async def aclose(self) -> None:
        return None


def _supergraph() -> Supergraph:
    sources = [
        SubgraphSource("feed", "inproc:unused:feed", FEED.as_str()),
        SubgraphSource("places", "inproc:unused:places", PLACES.as_str()),
    ]
    return Supergraph.from_sdl(compose(sources).supergraph_sdl)


async def measure(subscribers: int, events: int) -> dict[str, float]:
    feed, places = _Counted("feed", FEED), _Counted("places", PLACES)
    router = Router(_supergraph(), transports={"feed": feed, "places": places})
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    streams = []
    for _ in range(subscribers):
        stream = await router.subscribe(
            QUERY, None, None, context={"queue": queue}, sharing_key="t"
        )
        assert not isinstance(stream, dict), stream
        streams.append(stream)
    published: dict[str, float] = {}
    delays: list[float] = []

    async def read(stream: Any) -> None:
        for _ in range(events):
            event = await anext(stream)
            delays.append(
                time.perf_counter() - published[event.payload["data"]["parcelUpdated"]["status"]]
            )

    readers = [asyncio.create_task(read(stream)) for stream in streams]
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    for number in range(events):
        status = f"S{number}"
        published[status] = time.perf_counter()
        await queue.put(status)
        await asyncio.sleep(0)
    async with asyncio.timeout(600):
        await asyncio.gather(*readers)
    elapsed = time.perf_counter() - started
    for stream in streams:
        await stream.aclose()
    await router.aclose()
    delays.sort()
    return {
        "subscribers": subscribers,
        "events": events,
        "upstream_subscriptions": feed.subscriptions,
        "entity_fetches": places.queries,
        "events_per_s": events / elapsed,
        "deliveries_per_s": events * subscribers / elapsed,
        "p50_ms": statistics.median(delays) * 1000,
        "p99_ms": delays[int(len(delays) * 0.99) - 1] * 1000,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.subscriptions", description=__doc__)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--events", type=int, default=200)
    arguments = parser.parse_args(argv)
    result = asyncio.run(measure(arguments.subscribers, arguments.events))
    for name, value in result.items():
        print(f"{name:24} {value:,.2f}" if isinstance(value, float) else f"{name:24} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
