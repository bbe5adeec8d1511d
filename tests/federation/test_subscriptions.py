"""Subscriptions through the router, in-process subgraphs: planning, per-event entity
resolution, errors, refusals, sharing of identical subscriptions and closing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from federation.composition import SubgraphSource, compose, load_sdl_from_module
from federation.router import (
    Forwarded,
    InProcessTransport,
    OperationLimits,
    Router,
    SubgraphRequest,
    SubscriptionEvent,
    SubscriptionStream,
    Supergraph,
    print_plan,
)
from tests.federation.subgraphs import parcels, tracking
from tests.federation.subgraphs.parcels import ParcelFeed

pytestmark = pytest.mark.asyncio

UPDATED = """subscription Updated($id: ID!) {
  parcelUpdated(id: $id) { id status location carrier }
}"""
WAIT_S = 5.0


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


class Counting:
    """An in-process subgraph that counts the subscriptions and queries it receives."""

    def __init__(self, schema: Any, name: str) -> None:
        self.inner = InProcessTransport(name, schema)
        self.subscriptions = 0
        self.queries: list[SubgraphRequest] = []

    async def execute(self, request: SubgraphRequest) -> dict[str, Any]:
        self.queries.append(request)
        return await self.inner.execute(request)

    def subscribe(self, request: SubgraphRequest, last_event_id: str | None = None) -> Any:
        self.subscriptions += 1
        return self.inner.subscribe(request, last_event_id)

    async def aclose(self) -> None:
        return None


@pytest.fixture
def feed() -> ParcelFeed:
    return ParcelFeed()


@pytest.fixture
def counted() -> tuple[Counting, Counting]:
    return Counting(parcels.schema, "parcels"), Counting(tracking.schema, "tracking")


@pytest.fixture
def router(parcel_supergraph: Supergraph, counted: tuple[Counting, Counting]) -> Router:
    parcel_transport, tracking_transport = counted
    return Router(
        parcel_supergraph,
        transports={"parcels": parcel_transport, "tracking": tracking_transport},
    )


async def subscribed(router: Router, query: str, variables: Any, **options: Any) -> Any:
    stream = await router.subscribe(query, variables, None, **options)
    assert isinstance(stream, SubscriptionStream), f"refused: {stream}"
    return stream


async def next_event(stream: Any) -> SubscriptionEvent:
    async with asyncio.timeout(WAIT_S):
        return await anext(stream)


async def until(condition: Any) -> None:
    """Wait (bounded) for background tasks to reach ``condition``."""
    async with asyncio.timeout(WAIT_S):
        while not condition():
            await asyncio.sleep(0.005)


async def test_each_event_carries_fields_resolved_from_another_subgraph(
    router: Router, feed: ParcelFeed, counted: tuple[Counting, Counting]
) -> None:
    stream = await subscribed(router, UPDATED, {"id": "p1"}, context={"feed": feed})
    await until(lambda: feed.listening == 1)
    await feed.publish("p1", "PICKED_UP")
    await feed.publish("p2", "ELSEWHERE")
    await feed.publish("p1", "DELIVERED")
    first, second = await next_event(stream), await next_event(stream)
    await stream.aclose()
    assert first.payload["data"]["parcelUpdated"]["status"] == "PICKED_UP"
    assert second.payload["data"]["parcelUpdated"]["status"] == "DELIVERED"
    assert first.payload["data"]["parcelUpdated"]["carrier"] == "ACME"
    # Resolved afresh per event: the tracking subgraph's location changes on every lookup.
    assert (
        first.payload["data"]["parcelUpdated"]["location"]
        != (second.payload["data"]["parcelUpdated"]["location"])
    )
    assert list(first.payload["data"]["parcelUpdated"]) == ["id", "status", "location", "carrier"]
    assert (first.event_id, second.event_id) == ("1", "3")
    assert "errors" not in first.payload
    assert len(counted[1].queries) == 2


async def test_subscription_plans_are_cached_like_query_plans(router: Router) -> None:
    plan = router.plan(UPDATED)
    assert router.plan(UPDATED) is plan
    text = print_plan(plan)
    assert "QueryPlan (subscription)" in text
    assert "Fetch #0 -> PARCELS {" in text and "subscription(" in text
    assert "Fetch #1 -> TRACKING at parcelUpdated after #0" in text


async def test_skip_and_include_decide_per_subscription_what_is_answered(
    router: Router, feed: ParcelFeed
) -> None:
    query = """subscription($id: ID!, $withPlace: Boolean!, $noStatus: Boolean!) {
      parcelUpdated(id: $id) {
        status @skip(if: $noStatus)
        location @include(if: $withPlace)
      }
    }"""
    bare = await subscribed(
        router,
        query,
        {"id": "p1", "withPlace": False, "noStatus": True},
        context={"feed": feed},
    )
    full = await subscribed(
        router,
        query,
        {"id": "p1", "withPlace": True, "noStatus": False},
        context={"feed": feed},
    )
    await until(lambda: feed.listening == 2)
    await feed.publish("p1", "IN_TRANSIT")
    assert (await next_event(bare)).payload == {"data": {"parcelUpdated": {}}}
    everything = (await next_event(full)).payload["data"]["parcelUpdated"]
    assert everything["status"] == "IN_TRANSIT" and everything["location"].startswith("hub ")
    await bare.aclose()
    await full.aclose()


async def test_entity_field_errors_are_repathed_and_nulls_propagate(
    router: Router, feed: ParcelFeed
) -> None:
    nullable = await subscribed(
        router,
        'subscription { parcelUpdated(id: "p1") { status customsNote } }',
        None,
        context={"feed": feed},
    )
    non_null = await subscribed(
        router,
        'subscription { parcelUpdated(id: "p1") { status weightGrams } }',
        None,
        context={"feed": feed},
    )
    await until(lambda: feed.listening == 2)
    await feed.publish("p1", "HELD")
    partial = (await next_event(nullable)).payload
    assert partial["data"] == {"parcelUpdated": {"status": "HELD", "customsNote": None}}
    assert [error["path"] for error in partial["errors"]] == [["parcelUpdated", "customsNote"]]
    nulled = (await next_event(non_null)).payload
    # weightGrams is Int! and parcelUpdated is Parcel!: the null reaches the root.
    assert nulled["data"] is None
    assert [error["path"] for error in nulled["errors"]] == [["parcelUpdated", "weightGrams"]]
    await nullable.aclose()
    await non_null.aclose()


async def test_errors_of_a_redacted_subgraph_keep_their_internals_out(
    parcel_supergraph: Supergraph, feed: ParcelFeed
) -> None:
    router = Router(parcel_supergraph, redact_errors_of=frozenset({"tracking"}))
    stream = await subscribed(
        router,
        'subscription { parcelUpdated(id: "p1") { status customsNote } }',
        None,
        context={"feed": feed},
    )
    await until(lambda: feed.listening == 1)
    await feed.publish("p1", "HELD")
    payload = (await next_event(stream)).payload
    await stream.aclose()
    assert payload["errors"] == [
        {
            "message": 'Subgraph "tracking" returned an error.',
            "path": ["parcelUpdated", "customsNote"],
            "extensions": {"code": "SUBGRAPH_ERROR", "serviceName": "tracking"},
        }
    ]


async def test_a_failing_subgraph_stream_ends_the_subscription_with_its_errors_masked(
    parcel_supergraph: Supergraph,
) -> None:
    router = Router(parcel_supergraph, redact_errors_of=frozenset({"parcels"}))
    stream = await subscribed(
        router, 'subscription { parcelBroken(id: "p1") { status location } }', None
    )
    first = await next_event(stream)
    assert first.payload["data"]["parcelBroken"]["status"] == "FIRST"
    failed, ended = await next_event(stream), await next_event(stream)
    assert "10.1.2.3" not in str(failed.payload)
    assert failed.payload["data"] is None
    assert failed.payload["errors"][0] == {
        "message": 'Subgraph "parcels" returned an error.',
        "extensions": {"code": "SUBGRAPH_ERROR", "serviceName": "parcels"},
    }
    assert ended.payload["errors"][0]["extensions"]["code"] == "SUBSCRIPTION_ENDED"
    with pytest.raises(StopAsyncIteration):
        await next_event(stream)


async def test_a_subgraph_stream_that_ends_ends_the_client_stream_with_an_error(
    router: Router,
) -> None:
    stream = await subscribed(
        router, 'subscription { parcelTicks(id: "p1", count: 2) { status carrier } }', None
    )
    statuses = [(await next_event(stream)).payload for _ in range(3)]
    assert [p["data"] and p["data"]["parcelTicks"]["status"] for p in statuses[:2]] == [
        "tick 1",
        "tick 2",
    ]
    assert statuses[2] == {
        "data": None,
        "errors": [
            {
                "message": 'Subgraph "parcels" ended the subscription.',
                "extensions": {"code": "SUBSCRIPTION_ENDED", "serviceName": "parcels"},
            }
        ],
    }
    with pytest.raises(StopAsyncIteration):
        await next_event(stream)
    assert len(router.subscriptions) == 0


@pytest.mark.parametrize(
    ("query", "variables", "expected"),
    [
        ('{ parcel(id: "p1") { status } }', None, "NOT_A_SUBSCRIPTION"),
        ('mutation { parcel(id: "p1") }', None, None),
        ("subscription { parcelUpdated(id: ", None, None),
        ('subscription { parcelUpdated(id: "p1") { nope } }', None, None),
        ("subscription($id: ID!) { parcelUpdated(id: $id) { status } }", {}, None),
        ("subscription($id: ID!) { parcelUpdated(id: $id) { status } }", {"id": {}}, None),
        (
            'subscription { a: parcelUpdated(id: "1") { id } b: parcelUpdated(id: "2") { id } }',
            None,
            None,
        ),
    ],
    ids=["query", "mutation", "parse", "validation", "missing-var", "malformed-var", "two-roots"],
)
async def test_unusable_subscriptions_are_refused_before_anything_runs(
    router: Router,
    counted: tuple[Counting, Counting],
    query: str,
    variables: Any,
    expected: str | None,
) -> None:
    result = await router.subscribe(query, variables, None)
    assert isinstance(result, dict) and set(result) == {"errors"}, result
    assert result["errors"] and all(isinstance(e["message"], str) for e in result["errors"])
    if expected is not None:
        assert result["errors"][0]["extensions"]["code"] == expected
    assert counted[0].subscriptions == 0


async def test_oversized_and_expensive_subscriptions_are_refused_by_the_operation_limits(
    parcel_supergraph: Supergraph,
) -> None:
    router = Router(parcel_supergraph, limits=OperationLimits(max_tokens=50, max_aliases=3))
    aliases = " ".join(f"l{n}: location" for n in range(5))
    expensive = await router.subscribe(
        f'subscription {{ parcelUpdated(id: "p1") {{ {aliases} }} }}', None, None
    )
    oversized = await router.subscribe(
        'subscription { parcelUpdated(id: "' + "x" * 10 + '") { ' + "id " * 60 + "} }",
        None,
        None,
    )
    for refused, limit in ((expensive, "max_aliases"), (oversized, "max_tokens")):
        assert isinstance(refused, dict), refused
        assert refused["errors"][0]["extensions"] == {
            "code": "OPERATION_LIMIT_EXCEEDED",
            "limit": limit,
        }
    assert len(router.subscriptions) == 0


async def test_a_subscription_over_the_query_path_is_still_refused(router: Router) -> None:
    from federation.router import OperationError

    with pytest.raises(OperationError, match="Subscriptions are not supported"):
        await router.execute(UPDATED, {"id": "p1"})


async def test_a_thousand_identical_subscribers_share_one_upstream_and_one_fetch_per_event(
    router: Router, feed: ParcelFeed, counted: tuple[Counting, Counting]
) -> None:
    streams = [
        await subscribed(router, UPDATED, {"id": "p1"}, context={"feed": feed}, sharing_key="t1")
        for _ in range(1_000)
    ]
    await until(lambda: feed.listening == 1)
    for status in ("PICKED_UP", "IN_TRANSIT", "DELIVERED"):
        await feed.publish("p1", status)
    for stream in streams:
        received = [(await next_event(stream)).payload["data"]["parcelUpdated"] for _ in range(3)]
        assert [event["status"] for event in received] == ["PICKED_UP", "IN_TRANSIT", "DELIVERED"]
    assert counted[0].subscriptions == 1 and feed.opened == 1
    assert len(counted[1].queries) == 3, "one entity fetch per event, whatever the subscribers"
    assert len(router.subscriptions) == 1
    for stream in streams[:-1]:
        await stream.aclose()
    assert feed.listening == 1, "the upstream stays open while one subscriber listens"
    await streams[-1].aclose()
    assert feed.listening == 0 and len(router.subscriptions) == 0


def _identity(token: str) -> Forwarded:
    return Forwarded(identity=lambda _subgraph: (("x-principal", token),))


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"sharing_key": "tenant-a"}, {"sharing_key": "tenant-b"}),
        ({"sharing_key": "tenant-a"}, {}),
        ({"forwarded": _identity("a")}, {"forwarded": _identity("b")}),
        ({"sharing_key": "tenant-a"}, {"sharing_key": "tenant-a", "last_event_id": "0"}),
    ],
    ids=["tenants", "anonymous", "identities", "resuming"],
)
async def test_subscriptions_of_different_callers_never_share(
    router: Router,
    feed: ParcelFeed,
    counted: tuple[Counting, Counting],
    first: dict[str, Any],
    second: dict[str, Any],
) -> None:
    one = await subscribed(router, UPDATED, {"id": "p1"}, context={"feed": feed}, **first)
    other = await subscribed(router, UPDATED, {"id": "p1"}, context={"feed": feed}, **second)
    await until(lambda: feed.listening == 2)
    await feed.publish("p1", "DELIVERED")
    for stream in (one, other):
        assert (await next_event(stream)).payload["data"]["parcelUpdated"]["status"] == "DELIVERED"
        await stream.aclose()
    assert counted[0].subscriptions == 2 and len(counted[1].queries) == 2
    assert feed.listening == 0


async def test_different_variables_are_different_upstreams(
    router: Router, feed: ParcelFeed
) -> None:
    one = await subscribed(router, UPDATED, {"id": "p1"}, context={"feed": feed})
    other = await subscribed(router, UPDATED, {"id": "p2"}, context={"feed": feed})
    await until(lambda: feed.listening == 2)
    await feed.publish("p2", "LOST")
    await feed.publish("p1", "FOUND")
    assert (await next_event(one)).payload["data"]["parcelUpdated"]["status"] == "FOUND"
    assert (await next_event(other)).payload["data"]["parcelUpdated"]["status"] == "LOST"
    await one.aclose()
    await other.aclose()


async def test_a_resuming_subscriber_gets_what_followed_its_last_event_id(
    router: Router, feed: ParcelFeed
) -> None:
    for status in ("INFO_RECEIVED", "PICKED_UP", "IN_TRANSIT"):
        await feed.publish("p1", status)
    context = {"feed": feed}
    stream = await subscribed(router, UPDATED, {"id": "p1"}, context=context, last_event_id="1")
    replayed = [await next_event(stream) for _ in range(2)]
    assert [e.event_id for e in replayed] == ["2", "3"]
    assert [e.payload["data"]["parcelUpdated"]["status"] for e in replayed] == [
        "PICKED_UP",
        "IN_TRANSIT",
    ]
    await feed.publish("p1", "DELIVERED")
    live = await next_event(stream)
    assert (live.event_id, live.payload["data"]["parcelUpdated"]["status"]) == ("4", "DELIVERED")
    await stream.aclose()
    assert context == {"feed": feed}, "the resume point went in a copy of the context"


async def test_closing_one_of_two_different_subscriptions_closes_only_its_upstream(
    router: Router, feed: ParcelFeed
) -> None:
    ticks = await subscribed(
        router, 'subscription { parcelTicks(id: "t-close", count: 1000, pause: 0.01) { id } }', None
    )
    updates = await subscribed(router, UPDATED, {"id": "p1"}, context={"feed": feed})
    await next_event(ticks)
    await until(lambda: feed.listening == 1)
    await ticks.aclose()
    assert "t-close" not in parcels.ACTIVE_TICKS
    assert feed.listening == 1
    await feed.publish("p1", "STILL_HERE")
    assert (await next_event(updates)).payload["data"]["parcelUpdated"]["status"] == "STILL_HERE"
    await updates.aclose()
    with pytest.raises(StopAsyncIteration):
        await next_event(ticks)


async def test_a_subscriber_that_does_not_read_is_disconnected_not_buffered_forever(
    parcel_supergraph: Supergraph, feed: ParcelFeed
) -> None:
    router = Router(parcel_supergraph, subscription_buffer=3)
    slow = await subscribed(router, UPDATED, {"id": "p1"}, context={"feed": feed}, sharing_key="t")
    fast = await subscribed(router, UPDATED, {"id": "p1"}, context={"feed": feed}, sharing_key="t")
    await until(lambda: feed.listening == 1)
    for number in range(5):
        await feed.publish("p1", f"S{number}")
        assert (await next_event(fast)).payload["data"]["parcelUpdated"]["status"] == f"S{number}"
    told = await next_event(slow)
    assert told.payload["errors"][0]["extensions"]["code"] == "SUBSCRIPTION_CONSUMER_TOO_SLOW"
    with pytest.raises(StopAsyncIteration):
        await next_event(slow)
    await fast.aclose()
    await until(lambda: feed.listening == 0)


async def test_closing_the_router_ends_every_subscription(
    parcel_supergraph: Supergraph, feed: ParcelFeed
) -> None:
    router = Router(parcel_supergraph)
    stream = await subscribed(router, UPDATED, {"id": "p1"}, context={"feed": feed})
    await until(lambda: feed.listening == 1)
    await router.aclose()
    final = await next_event(stream)
    assert final.payload["errors"][0]["extensions"]["code"] == "SUBSCRIPTION_ENDED"
    with pytest.raises(StopAsyncIteration):
        await next_event(stream)
    assert feed.listening == 0
