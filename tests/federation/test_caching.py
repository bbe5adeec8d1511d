"""Response and entity caching in the router, driven by @cacheControl hints in the supergraph.

Two SDL subgraphs (parcels, tracking) composed with @cacheControl through @composeDirective;
every request a subgraph receives is recorded, so a hit is proven by no new request.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiocache import SimpleMemoryCache
from aiocache.serializers import JsonSerializer
from starlette.testclient import TestClient

from federation.composition import compose
from federation.router import Router, Supergraph, build_app
from federation.router.caching import CachePartition, CacheSettings, Caching, entity_tag
from federation.router.errors import SubgraphError
from federation.router.options import RequestOptions
from stores.tagged_cache import MemoryTaggedStore
from tests.federation.sdl_subgraph import SdlSubgraph

CACHE_CONTROL = """
directive @composeDirective(name: String!) repeatable on SCHEMA
enum CacheControlScope { PUBLIC PRIVATE }
directive @cacheControl(maxAge: Int, scope: CacheControlScope, inheritMaxAge: Boolean)
  on FIELD_DEFINITION | OBJECT | INTERFACE | UNION
"""
LINKS = """
extend schema
  @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key", "@composeDirective"])
  @link(url: "https://specs.example.dev/cacheControl/v0.1", import: ["@cacheControl"])
  @composeDirective(name: "@cacheControl")
"""
PARCELS = {
    "P-1": {"id": "P-1", "weight": 3, "owner": "T-1", "note": "fragile"},
    "P-2": {"id": "P-2", "weight": 5, "owner": "T-2", "note": "heavy"},
}
TENANT_A = CachePartition("tenant-a", "tenant-a/client-1")
TENANT_B = CachePartition("tenant-b", "tenant-b/client-2")


class Switchable:
    """A subgraph that can be taken down: its calls then fail as an unreachable one's do."""

    def __init__(self, subgraph: SdlSubgraph) -> None:
        self.subgraph = subgraph
        self.down = False

    async def execute(self, request: Any) -> dict[str, Any]:
        if self.down:
            self.subgraph.requests.append(request)
            raise SubgraphError(self.subgraph.name)
        return await self.subgraph.execute(request)

    async def aclose(self) -> None:
        return None


def _parcels() -> SdlSubgraph:
    return SdlSubgraph(
        "parcels",
        LINKS
        + CACHE_CONTROL
        + """
        type Query {
          parcel(id: ID!): Parcel
          tracked(id: ID!): Parcel @cacheControl(maxAge: 60)
          parcels: [Parcel!]! @cacheControl(maxAge: 20)
          clock: Float
          big: String @cacheControl(maxAge: 60)
        }
        type Mutation {
          weigh(id: ID!): Parcel @cacheControl(maxAge: 60)
        }
        type Parcel @key(fields: "id") @cacheControl(maxAge: 30) {
          id: ID!
          weight: Int
          owner: String @cacheControl(scope: PRIVATE)
          note: String @cacheControl(maxAge: 5)
        }
        """,
        root={
            "parcel": lambda id: PARCELS.get(id),
            "tracked": lambda id: PARCELS.get(id),
            "parcels": lambda: list(PARCELS.values()),
            "clock": lambda: time.time(),
            "big": lambda: "x" * 5000,
            "weigh": lambda id: PARCELS.get(id),
        },
        entities={"Parcel": lambda r: PARCELS.get(r["id"])},
    )


STATUS = {"P-1": "IN_TRANSIT", "P-2": "DELIVERED"}


def _tracking() -> SdlSubgraph:
    return SdlSubgraph(
        "tracking",
        LINKS
        + CACHE_CONTROL
        + """
        type Parcel @key(fields: "id") {
          id: ID!
          status: String
          eta: String @cacheControl(maxAge: 0)
        }
        """,
        entities={"Parcel": lambda r: {"status": STATUS.get(r["id"]), "eta": "soon"}},
    )


class Graph:
    def __init__(self, **settings: Any) -> None:
        self.parcels = _parcels()
        self.tracking = Switchable(_tracking())
        sdl = compose([self.parcels.source, self.tracking.subgraph.source]).supergraph_sdl
        self.sdl = sdl
        self.store = MemoryTaggedStore(SimpleMemoryCache(serializer=JsonSerializer()))
        self.router = Router(
            Supergraph.from_sdl(sdl),
            transports={"parcels": self.parcels, "tracking": self.tracking},
            caching=Caching(self.store, CacheSettings(**settings)),
        )

    def calls(self) -> tuple[int, int]:
        return len(self.parcels.requests), len(self.tracking.subgraph.requests)


@pytest.fixture
def graph() -> Graph:
    return Graph(stale_if_error_s=60, max_entry_bytes=4096)


def test_the_supergraph_carries_the_hints_of_the_subgraphs(graph: Graph) -> None:
    assert '@link(url: "https://specs.example.dev/cacheControl/v0.1"' in graph.sdl
    assert "@cacheControl(maxAge: 30)" in graph.sdl
    assert "note: String @join__field(graph: PARCELS) @cacheControl(maxAge: 5)" in graph.sdl


@pytest.mark.parametrize(
    ("query", "max_age", "scope"),
    [
        ('{ parcel(id: "P-1") { id weight } }', 30, "PUBLIC"),
        ('{ parcel(id: "P-1") { id note } }', 5, "PUBLIC"),
        ('{ parcel(id: "P-1") { id owner } }', 30, "PRIVATE"),
        ('{ parcel(id: "P-1") { id status } }', 30, "PUBLIC"),
        ('{ parcel(id: "P-1") { id eta } }', 0, "PUBLIC"),
        ("{ clock }", 0, "PUBLIC"),
        ('{ clock parcel(id: "P-1") { id } }', 0, "PUBLIC"),
        ("{ parcels { id } }", 20, "PUBLIC"),
        ('{ tracked(id: "P-1") { id weight } }', 60, "PUBLIC"),
        ('{ tracked(id: "P-1") { id note } }', 5, "PUBLIC"),
    ],
)
def test_the_policy_is_the_most_restrictive_of_the_fields_selected(
    graph: Graph, query: str, max_age: int, scope: str
) -> None:
    policy = graph.router.prepare(query).cache_policy
    assert (policy.max_age, policy.scope) == (max_age, scope)


def test_per_type_configuration_replaces_the_schema_hint() -> None:
    graph = Graph(type_max_ages={"Parcel": 600})
    policy = graph.router.prepare('{ parcel(id: "P-1") { id weight } }').cache_policy
    assert policy.max_age == 600


async def test_a_second_identical_query_is_answered_without_any_subgraph_call(graph) -> None:
    query = 'query { parcel(id: "P-1") { id weight status } }'
    first = await graph.router.run(query, cache=TENANT_A)
    calls = graph.calls()
    assert calls == (1, 1)
    second = await graph.router.run(query, cache=TENANT_A)
    assert second.result == first.result
    assert graph.calls() == calls
    assert second.policy.max_age == 30


async def test_another_partition_never_gets_the_answer_kept_for_the_first(graph) -> None:
    query = 'query { parcel(id: "P-1") { id weight } }'
    await graph.router.run(query, cache=TENANT_A)
    await graph.router.run(query, cache=TENANT_B)
    assert graph.calls()[0] == 2
    await graph.router.run(query)  # no partition: never cached, never found
    assert graph.calls()[0] == 3


async def test_private_answers_are_kept_per_caller_within_the_shared_partition(graph) -> None:
    query = 'query { parcel(id: "P-1") { id owner } }'
    colleague = CachePartition(TENANT_A.shared, "tenant-a/client-9")
    await graph.router.run(query, cache=TENANT_A)
    await graph.router.run(query, cache=colleague)
    assert graph.calls()[0] == 2
    await graph.router.run(query, cache=colleague)
    assert graph.calls()[0] == 2


async def test_variables_and_operation_decide_the_answer_too(graph) -> None:
    query = "query($id: ID!) { parcel(id: $id) { id weight } }"
    one = await graph.router.run(query, {"id": "P-1"}, cache=TENANT_A)
    two = await graph.router.run(query, {"id": "P-2"}, cache=TENANT_A)
    assert one.result != two.result
    assert graph.calls()[0] == 2


async def test_another_query_needing_the_same_entity_costs_no_entity_fetch(graph) -> None:
    await graph.router.run('{ parcel(id: "P-1") { id weight status } }', cache=TENANT_A)
    assert graph.calls() == (1, 1)
    answer = await graph.router.run('{ parcel(id: "P-1") { id status } }', cache=TENANT_A)
    assert answer.result == {"data": {"parcel": {"id": "P-1", "status": "IN_TRANSIT"}}}
    assert graph.calls() == (2, 1)
    await graph.router.run("{ parcels { id status } }", cache=TENANT_A)
    sent = graph.tracking.subgraph.requests[-1].variables["representations"]
    assert sent == [{"__typename": "Parcel", "id": "P-2"}]  # P-1 came from the entity cache


async def test_a_purge_by_entity_tag_drops_the_answers_and_entities_holding_it(graph) -> None:
    query = '{ parcel(id: "P-1") { id status } }'
    await graph.router.run(query, cache=TENANT_A)
    await graph.router.run(query, cache=TENANT_A)
    assert graph.calls() == (1, 1)
    assert await graph.store.purge([entity_tag("Parcel", {"id": "P-1"})]) == 2
    await graph.router.run(query, cache=TENANT_A)
    assert graph.calls() == (2, 2)


async def test_answers_with_errors_are_not_kept(graph) -> None:
    graph.tracking.down = True
    query = '{ parcel(id: "P-1") { id status } }'
    first = await graph.router.run(query, cache=TENANT_A)
    assert first.result["errors"][0]["extensions"]["code"] == "SUBGRAPH_UNAVAILABLE"
    graph.tracking.down = False
    second = await graph.router.run(query, cache=TENANT_A)
    assert "errors" not in second.result


async def test_a_failing_subgraph_is_answered_with_the_last_good_answer_marked_stale() -> None:
    graph = Graph(stale_if_error_s=60, type_max_ages={"Parcel": 1})
    query = '{ parcel(id: "P-1") { id weight status } }'
    good = await graph.router.run(query, cache=TENANT_A)
    graph.tracking.down = True
    await asyncio.sleep(1.1)
    stale = await graph.router.run(query, cache=TENANT_A)
    assert stale.stale is True
    assert stale.result["data"] == good.result["data"]
    assert stale.result["extensions"]["cache"] == {"stale": True, "age": 1}
    assert "errors" not in stale.result
    other = await graph.router.run(query, cache=TENANT_B)
    assert other.result["errors"][0]["extensions"]["code"] == "SUBGRAPH_UNAVAILABLE"


async def test_an_answer_over_the_entry_size_is_answered_but_not_kept(graph) -> None:
    for _ in range(2):
        answer = await graph.router.run("{ big }", cache=TENANT_A)
        assert len(answer.result["data"]["big"]) == 5000
    assert graph.calls()[0] == 2


async def test_mutation_free_introspection_and_plans_are_not_cached(graph) -> None:
    query = '{ parcel(id: "P-1") { id } }'
    await graph.router.run(query, cache=TENANT_A, include_plan=True)
    await graph.router.run(query, cache=TENANT_A, include_plan=True)
    assert graph.calls()[0] == 2


async def test_a_mutation_is_never_cached_whatever_its_hints(graph) -> None:
    mutation = 'mutation { weigh(id: "P-1") { id weight } }'
    assert not graph.router.prepare(mutation).cache_policy.cacheable
    await graph.router.run(mutation, cache=TENANT_A)
    await graph.router.run(mutation, cache=TENANT_A)
    assert graph.calls()[0] == 2
    with _client(graph) as client:
        posted = client.post("/graphql", json={"query": mutation})
        assert posted.status_code == 200 and "cache-control" not in posted.headers
        over_get = client.get("/graphql", params={"query": mutation})
        assert over_get.status_code == 405 and "etag" not in over_get.headers


def _client(graph: Graph, partition: CachePartition | None = TENANT_A) -> TestClient:
    app = build_app(graph.router, options=RequestOptions(cache=partition))
    return TestClient(app)


def test_get_answers_carry_cache_control_an_etag_and_304_when_unchanged(graph) -> None:
    with _client(graph) as client:
        params = {"query": '{ parcel(id: "P-1") { id weight } }'}
        first = client.get("/graphql", params=params)
        assert first.status_code == 200
        assert first.headers["cache-control"] == "max-age=30, public"
        etag = first.headers["etag"]
        assert etag.startswith('"') and etag.endswith('"')
        again = client.get("/graphql", params=params, headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == etag
        weak = client.get("/graphql", params=params, headers={"If-None-Match": f'"x", W/{etag}'})
        assert weak.status_code == 304
        other = client.get("/graphql", params=params, headers={"If-None-Match": '"other"'})
        assert other.status_code == 200 and other.headers["etag"] == etag


@pytest.mark.parametrize("header", ["abc", '"unterminated', '"a" "b"', "W/", ",", '"' * 9000])
def test_a_malformed_if_none_match_is_ignored(graph, header: str) -> None:
    with _client(graph) as client:
        params = {"query": '{ parcel(id: "P-1") { id weight } }'}
        client.get("/graphql", params=params)
        answer = client.get("/graphql", params=params, headers={"If-None-Match": header})
        assert answer.status_code == 200
        assert answer.json()["data"]["parcel"]["id"] == "P-1"


def test_uncacheable_get_answers_say_no_store_and_private_ones_private(graph) -> None:
    with _client(graph) as client:
        clock = client.get("/graphql", params={"query": "{ clock }"})
        assert clock.headers["cache-control"] == "no-store"
        assert "etag" not in clock.headers
        owner = client.get("/graphql", params={"query": '{ parcel(id: "P-1") { owner } }'})
        assert owner.headers["cache-control"] == "max-age=30, private"


def test_post_answers_carry_no_http_caching_headers(graph) -> None:
    with _client(graph) as client:
        answer = client.post("/graphql", json={"query": '{ parcel(id: "P-1") { id } }'})
        assert answer.status_code == 200
        assert "cache-control" not in answer.headers and "etag" not in answer.headers


def test_an_expensive_query_is_cached_once_and_answered_from_the_cache(graph) -> None:
    aliases = " ".join(
        f'p{i}: parcel(id: "P-{i % 2 + 1}") {{ id weight status }}' for i in range(25)
    )
    with _client(graph) as client:
        first = client.get("/graphql", params={"query": "{ " + aliases + " }"})
        calls = graph.calls()
        second = client.get("/graphql", params={"query": "{ " + aliases + " }"})
        assert second.json() == first.json()
        assert graph.calls() == calls
