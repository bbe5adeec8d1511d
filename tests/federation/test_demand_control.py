"""Demand control: an operation's cost from ``@cost`` and ``@listSize``, estimated before any
subgraph is called, refused over the caller's budget, measured after it ran.

Driven through GraphQL over HTTP (POST, GET, multipart), WebSocket and SSE against the router
over the test supergraph with cost directives added, every subgraph call counted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
from starlette.testclient import TestClient
from websockets.asyncio.client import connect

from bench.abuse import CountingTransport
from federation.composition import SubgraphSource, compose, load_sdl_from_module
from federation.router import (
    InProcessTransport,
    RequestOptions,
    Router,
    SubscriptionStream,
    Supergraph,
    SupergraphError,
    build_app,
)
from federation.router.cost import (
    MAX_REPORTED_COST,
    CostControl,
    CostReport,
    CostSettings,
)
from federation.router.streaming import StreamShutdown
from tests.federation.conftest import SUPERGRAPH_PATH
from tests.federation.streams import serving

GRAPHQL_RESPONSE = "application/graphql-response+json"
PROTOCOL = "graphql-transport-ws"
COST_LINK = '  @link(url: "https://specs.apollo.dev/cost/v0.1", import: ["@cost", "@listSize"])\n'
FIRST = ' @listSize(slicingArguments: ["first"])'
COST_DIRECTIVES = """
directive @cost(weight: Int!) on ARGUMENT_DEFINITION | ENUM | FIELD_DEFINITION
  | INPUT_FIELD_DEFINITION | OBJECT | SCALAR

directive @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!],
  requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION
"""


def costed_sdl(link: str = COST_LINK) -> str:
    """The test supergraph with demand control directives on some of its fields."""
    text = SUPERGRAPH_PATH.read_text()
    additions = [
        ("{\n  query: Query", link, "before"),
        ("topProducts(first: Int! = 5): [Product!]! @join__field(graph: PRODUCTS)", FIRST, "after"),
        ("  reviews: [Review!]! @join__field(graph: REVIEWS)\n}\n\ntype Query", None, "product"),
        ('requires: "price weight")', " @cost(weight: 4)", "after"),
        ("renameProduct(upc: String!", " @cost(weight: 2)", "after"),
        ("type Review implements Node\n", "  @cost(weight: 2)\n", "after"),
        ("latestReviews: [Review!]! @join__field(graph: REVIEWS)", FIRST, "after"),
    ]  # fmt: skip
    for anchor, addition, where in additions:
        assert text.count(anchor) == 1, anchor
        if where == "before":
            replacement = f"{addition}{anchor}"
        elif where == "after":
            replacement = f"{anchor}{addition}"
        else:
            replacement = anchor.replace(
                "(graph: REVIEWS)", "(graph: REVIEWS) @listSize(assumedSize: 3)"
            )
        text = text.replace(anchor, replacement)
    return text + COST_DIRECTIVES


@pytest.fixture(scope="module")
def supergraph() -> Supergraph:
    return Supergraph.from_sdl(costed_sdl())


@dataclass
class Served:
    client: TestClient
    transports: dict[str, CountingTransport]
    reports: list[CostReport] = field(default_factory=list)

    @property
    def subgraph_calls(self) -> int:
        return sum(transport.calls for transport in self.transports.values())

    def post(self, query: str, variables: Any = None, accept: str = GRAPHQL_RESPONSE) -> Any:
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        return self.client.post("/graphql", json=body, headers={"accept": accept})


def costed_router(
    supergraph: Supergraph, max_cost: float | None, **settings: Any
) -> tuple[Router, dict[str, CountingTransport], RequestOptions, list[CostReport]]:
    transports = {
        graph.name: CountingTransport(InProcessTransport.from_location(graph.name, graph.url))
        for graph in supergraph.graphs.values()
    }
    reports: list[CostReport] = []
    control = CostControl(
        max_cost=max_cost, budget_name="plans.test.max_cost", expose=True, observe=reports.append
    )
    router = Router(supergraph, transports=transports, cost_settings=CostSettings(**settings))
    return router, transports, RequestOptions(cost=control), reports


def serve(supergraph: Supergraph, max_cost: float | None, **settings: Any) -> Iterator[Served]:
    router, transports, options, reports = costed_router(supergraph, max_cost, **settings)
    with TestClient(build_app(router, options=options)) as client:
        yield Served(client, transports, reports)


@pytest.fixture
def served(supergraph: Supergraph) -> Iterator[Served]:
    yield from serve(supergraph, max_cost=100)


def estimated(served: Served, query: str, variables: Any = None) -> int:
    answer = served.post(query, variables).json()
    return answer["extensions"]["cost"]["estimated"]


# -- the rules -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "variables", "cost"),
    [
        # objects 1, scalars 0
        ("{ me { id name } }", None, 1),
        ("{ __typename }", None, 0),
        # a list with a slicing argument: its default (5), a literal, a variable
        ("{ topProducts { upc name } }", None, 5),
        ("{ topProducts(first: 2) { upc } }", None, 2),
        ("query($n: Int!) { topProducts(first: $n) { upc } }", {"n": 4}, 4),
        # assumedSize 3 and a type weight of 2 per review
        ("{ topProducts(first: 2) { reviews { body } } }", None, 2 * (1 + 3 * 2)),
        # a list without @listSize: the default list size (10)
        ("{ me { reviews { id } } }", None, 1 + 10 * 2),
        # a field weight (paid per resolution) and what its @requires fetches (scalars: 0)
        ("{ topProducts(first: 1) { shippingEstimate } }", None, 1 * (1 + 4)),
        # a mutation: 10, plus an argument's weight, plus the object it returns
        ('mutation { renameProduct(upc: "1", name: "x") { upc } }', None, 10 + 2 + 1),
        # a union's members are summed, as written
        ('{ search(text: "a") { ... on Review { id } ... on User { id } } }', None, 10 * 1),
        # literal @skip leaves the field out; a variable one is decided per request
        ("{ me { id } topProducts @skip(if: true) { upc } }", None, 1),
        (
            "query($all: Boolean!) { me { id } topProducts @include(if: $all) { upc } }",
            {"all": False},
            1,
        ),
        (
            "query($all: Boolean!) { me { id } topProducts @include(if: $all) { upc } }",
            {"all": True},
            1 + 5,
        ),
    ],
)
def test_the_estimate_follows_the_cost_rules(
    served: Served, query: str, variables: Any, cost: int
) -> None:
    assert estimated(served, query, variables) == cost


def test_a_document_is_costed_once_and_its_variables_per_request(served: Served) -> None:
    query = "query($n: Int!) { topProducts(first: $n) { reviews { id } } }"
    assert estimated(served, query, {"n": 1}) == 1 * (1 + 3 * 2)
    assert estimated(served, query, {"n": 3}) == 3 * (1 + 3 * 2)
    ids = {report.operation_id for report in served.reports}
    assert len(ids) == 1, "one document, one operation id whatever its variables"


def test_the_actual_cost_counts_the_lists_as_they_came_back(served: Served) -> None:
    answer = served.post("{ topProducts(first: 3) { upc reviews { body } } }").json()
    products = answer["data"]["topProducts"]
    reviews = sum(len(product["reviews"]) for product in products)
    cost = answer["extensions"]["cost"]
    assert cost["estimated"] == 3 * (1 + 3 * 2)
    assert cost["actual"] == len(products) * 1 + reviews * 2
    assert cost["actual"] < cost["estimated"], "fewer reviews came back than were assumed"
    assert cost["max"] == 100 and cost["result"] == "COST_OK"
    (report,) = served.reports
    assert (report.estimated, report.actual, report.kind) == (21, cost["actual"], "query")


# -- budgets ---------------------------------------------------------------------------------


def test_an_operation_over_budget_is_refused_before_any_subgraph_call(served: Served) -> None:
    refused = served.post("{ me { reviews { product { reviews { author { name } } } } } }")
    assert refused.status_code == 400
    (error,) = refused.json()["errors"]
    assert "data" not in refused.json()
    assert error["extensions"]["code"] == "COST_ESTIMATED_TOO_EXPENSIVE"
    estimate = 1 + 10 * (2 + 1 + 3 * (2 + 1))
    assert error["extensions"]["cost.estimated"] == estimate
    assert error["extensions"]["cost.max"] == 100
    assert error["message"] == (
        f"The operation's estimated cost {estimate} exceeds the maximum of 100 "
        "(plans.test.max_cost)."
    )
    assert served.subgraph_calls == 0
    (report,) = served.reports
    assert report.actual is None and report.result == "COST_ESTIMATED_TOO_EXPENSIVE"


def test_variables_decide_whether_one_document_fits_the_budget(served: Served) -> None:
    query = "query($n: Int!) { topProducts(first: $n) { upc } }"
    assert served.post(query, {"n": 5}).status_code == 200
    calls = served.subgraph_calls
    refused = served.post(query, {"n": 101})
    assert refused.json()["errors"][0]["extensions"]["cost.estimated"] == 101
    huge = served.post(query, {"n": 2**31 - 1})
    assert huge.json()["errors"][0]["extensions"]["code"] == "COST_ESTIMATED_TOO_EXPENSIVE"
    assert served.subgraph_calls == calls, "no call for either refusal"


def test_legacy_json_clients_get_the_refusal_with_status_200(served: Served) -> None:
    refused = served.post(
        "{ me { reviews { id } } topProducts(first: 90) { upc } }", accept="application/json"
    )
    assert refused.status_code == 200
    assert refused.json()["errors"][0]["extensions"]["code"] == "COST_ESTIMATED_TOO_EXPENSIVE"


def test_nested_lists_multiply_and_an_expensive_operation_costs_no_call(
    supergraph: Supergraph,
) -> None:
    deep = (
        "{ me { reviews { product { reviews { author { reviews { product { reviews { id } } } } }"
        " } } } }"
    )
    product = 1 + 3 * 2
    author = 1 + 10 * (2 + product)
    estimate = 1 + 10 * (2 + 1 + 3 * (2 + author))
    for served in serve(supergraph, max_cost=estimate):
        answered = served.post(deep).json()
        assert answered["extensions"]["cost"]["estimated"] == estimate
        assert 0 < answered["extensions"]["cost"]["actual"] <= estimate
    for served in serve(supergraph, max_cost=estimate - 1):
        refused = served.post(deep)
        assert refused.status_code == 400
        assert refused.json()["errors"][0]["extensions"]["cost.estimated"] == estimate
        assert served.subgraph_calls == 0


def test_a_list_needing_one_slicing_argument_is_refused_only_under_a_budget(
    supergraph: Supergraph,
) -> None:
    query = "{ latestReviews { id } }"
    for served in serve(supergraph, max_cost=100):
        refused = served.post(query)
        assert refused.status_code == 400
        (error,) = refused.json()["errors"]
        assert error["extensions"]["code"] == "COST_QUERY_PARSE_FAILURE"
        assert "Query.latestReviews needs exactly one of its slicing arguments" in error["message"]
        assert served.subgraph_calls == 0
    for served in serve(supergraph, max_cost=None):
        answered = served.post(query).json()
        assert "errors" not in answered and answered["data"]["latestReviews"]
        assert answered["extensions"]["cost"]["estimated"] == 10 * 2


def test_the_default_list_size_is_configurable(supergraph: Supergraph) -> None:
    for served in serve(supergraph, max_cost=None, list_size=25):
        assert estimated(served, "{ me { reviews { id } } }") == 1 + 25 * 2


def test_a_get_request_is_costed_like_a_post(served: Served) -> None:
    query = "{ me { reviews { product { reviews { author { name } } } } } }"
    refused = served.client.get(
        "/graphql", params={"query": query}, headers={"accept": GRAPHQL_RESPONSE}
    )
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["extensions"]["code"] == "COST_ESTIMATED_TOO_EXPENSIVE"
    assert served.subgraph_calls == 0


def test_a_multipart_query_over_budget_gets_the_plain_refusal(served: Served) -> None:
    refused = served.client.post(
        "/graphql",
        json={"query": "{ topProducts(first: 200) { upc } }"},
        headers={"accept": "multipart/mixed;subscriptionSpec=1.0, application/json"},
    )
    assert refused.json()["errors"][0]["extensions"]["code"] == "COST_ESTIMATED_TOO_EXPENSIVE"
    assert served.subgraph_calls == 0


async def test_a_websocket_query_over_budget_is_refused_and_one_within_runs(
    supergraph: Supergraph,
) -> None:
    router, transports, options, _ = costed_router(supergraph, max_cost=100)
    shutdown = StreamShutdown()
    with serving(build_app(router, options=options, shutdown=shutdown), shutdown) as server:
        async with connect(server.ws, subprotocols=[PROTOCOL]) as ws:  # type: ignore[list-item]
            await send(ws, {"type": "connection_init"})
            assert await receive(ws) == {"type": "connection_ack"}
            expensive = {"query": "{ topProducts(first: 500) { upc } }"}
            await send(ws, {"id": "1", "type": "subscribe", "payload": expensive})
            refused = await receive(ws)
            assert refused["type"] == "error" and refused["id"] == "1"
            assert refused["payload"][0]["extensions"]["code"] == "COST_ESTIMATED_TOO_EXPENSIVE"
            assert sum(transport.calls for transport in transports.values()) == 0
            cheap = {"query": "{ me { id } }"}
            await send(ws, {"id": "2", "type": "subscribe", "payload": cheap})
            answered = await receive(ws)
            assert answered["payload"]["extensions"]["cost"]["actual"] == 1


async def receive(socket: Any) -> dict[str, Any]:
    return orjson.loads(await asyncio.wait_for(socket.recv(), 5))


async def send(socket: Any, message: dict[str, Any]) -> None:
    await socket.send(orjson.dumps(message).decode())


# -- subscriptions ---------------------------------------------------------------------------

TICKS = """subscription($id: ID!, $count: Int!) {
  parcelTicks(id: $id, count: $count) { id status location }
}"""


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


async def test_a_subscription_over_budget_is_refused_at_subscribe(
    parcel_supergraph: Supergraph,
) -> None:
    router = Router(parcel_supergraph)
    options = RequestOptions(cost=CostControl(max_cost=0.5))
    refused = await router.subscribe(TICKS, {"id": "p1", "count": 2}, None, options=options)
    assert isinstance(refused, dict)
    assert refused["errors"][0]["extensions"]["code"] == "COST_ESTIMATED_TOO_EXPENSIVE"
    assert refused["errors"][0]["extensions"]["cost.estimated"] == 1


async def test_each_event_of_a_subscription_reports_its_cost(parcel_supergraph: Supergraph) -> None:
    router = Router(parcel_supergraph)
    reports: list[CostReport] = []
    control = CostControl(max_cost=10, expose=True, observe=reports.append)
    stream = await router.subscribe(
        TICKS, {"id": "p1", "count": 2}, None, options=RequestOptions(cost=control), context={}
    )
    assert isinstance(stream, SubscriptionStream)
    events = [await anext(stream), await anext(stream)]
    await stream.aclose()
    assert [event.payload["extensions"]["cost"] for event in events] == [
        {"estimated": 1, "actual": 1, "max": 10, "result": "COST_OK"}
    ] * 2
    assert [(r.kind, r.actual) for r in reports] == [("subscription", 1)] * 2


async def test_a_subscription_over_budget_is_refused_over_sse_and_websocket(
    parcel_supergraph: Supergraph,
) -> None:
    router = Router(parcel_supergraph)
    options = RequestOptions(cost=CostControl(max_cost=0.5))
    body = {"query": TICKS, "variables": {"id": "p1", "count": 2}}
    shutdown = StreamShutdown()
    with serving(build_app(router, options=options, shutdown=shutdown), shutdown) as server:
        async with httpx.AsyncClient(timeout=5) as client:
            sse = await client.post(server.http, json=body, headers={"accept": "text/event-stream"})
            assert "COST_ESTIMATED_TOO_EXPENSIVE" in sse.text
            assert "tick 1" not in sse.text
        async with connect(server.ws, subprotocols=[PROTOCOL]) as ws:  # type: ignore[list-item]
            await send(ws, {"type": "connection_init"})
            await receive(ws)
            await send(ws, {"id": "s", "type": "subscribe", "payload": body})
            refused = await receive(ws)
            assert refused["type"] == "error"
            assert refused["payload"][0]["extensions"]["code"] == "COST_ESTIMATED_TOO_EXPENSIVE"


# -- the supergraph's directives -------------------------------------------------------------


def test_a_supergraph_linking_the_cost_spec_for_execution_loads() -> None:
    link = COST_LINK.replace("])", "], for: EXECUTION)")
    router = Router(Supergraph.from_sdl(costed_sdl(link)))
    assert router.prepare("{ topProducts { upc } }").cost.estimate({}).cost == 5  # type: ignore[union-attr]


def test_renamed_cost_directives_are_read_under_their_names() -> None:
    link = (
        '  @link(url: "https://specs.apollo.dev/cost/v0.1", as: "price",'
        ' import: [{name: "@listSize", as: "@sized"}])\n'
    )
    sdl = costed_sdl(link).replace("@listSize(", "@sized(").replace("@cost(", "@price(")
    sdl = sdl.replace("directive @sized(", "directive @sized(").replace(
        "directive @price(weight", "directive @price(weight"
    )
    router = Router(Supergraph.from_sdl(sdl))
    cost = router.prepare("{ topProducts(first: 2) { reviews { body } } }").cost
    assert cost is not None and cost.estimate({}).cost == 2 * (1 + 3 * 2)


def test_a_weight_that_is_not_an_integer_stops_the_load() -> None:
    sdl = costed_sdl().replace("@cost(weight: 4)", '@cost(weight: "heavy")')
    with pytest.raises(SupergraphError, match=r"@cost\(weight:\) on Product.shippingEstimate"):
        Router(Supergraph.from_sdl(sdl))


def test_negative_argument_weights_never_make_a_field_cost_less_than_nothing() -> None:
    sdl = costed_sdl().replace(
        "renameProduct(upc: String! @cost(weight: 2)",
        "renameProduct(upc: String! @cost(weight: -50)",
    )
    router = Router(Supergraph.from_sdl(sdl))
    cost = router.prepare('mutation { renameProduct(upc: "1", name: "x") { upc } }').cost
    assert cost is not None and cost.estimate({}).cost == 10 + 0 + 1


def test_reported_costs_stay_exact_in_json() -> None:
    report = CostReport("id", None, "query", 10**30, 10**30, 5.0, "COST_OK")
    assert report.extension()["estimated"] == MAX_REPORTED_COST
    assert orjson.loads(orjson.dumps(report.extension()))["actual"] == MAX_REPORTED_COST
