"""Properties of the cost calculator, for any sizes a client may ask and any document it sends.

The estimate never goes below zero, never falls when a slicing argument or the default list
size grows, and is an upper bound of the actual cost of any answer whose lists are no longer
than the sizes it assumed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hypothesis_graphql
from graphql import parse, print_schema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from federation.router import OperationLimits, Router, Supergraph
from federation.router.cost import CostSettings, OperationCost

SDL = """
schema
  @link(url: "https://specs.apollo.dev/link/v1.0")
  @link(url: "https://specs.apollo.dev/join/v0.5", for: EXECUTION)
  @link(url: "https://specs.apollo.dev/cost/v0.1", import: ["@cost", "@listSize"])
{ query: Query }
directive @join__type(graph: join__Graph!, key: join__FieldSet) repeatable on OBJECT
directive @join__graph(name: String!, url: String!) on ENUM_VALUE
directive @cost(weight: Int!) on ARGUMENT_DEFINITION | FIELD_DEFINITION | OBJECT | SCALAR
directive @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!],
  requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION
scalar join__FieldSet
enum join__Graph { A @join__graph(name: "a", url: "http://127.0.0.1:9/graphql") }
type Query @join__type(graph: A) {
  page(first: Int = 10, last: Int): Page
    @listSize(slicingArguments: ["first", "last"], sizedFields: ["items"],
              requireOneSlicingArgument: false)
  items(first: Int!): [Item] @listSize(slicingArguments: ["first"])
  things: [Item]
}
type Page @join__type(graph: A) { items: [Item] total: Int }
type Item @join__type(graph: A) {
  id: ID
  tags: [String]
  children(first: Int, discount: Int @cost(weight: -3)): [Item]
    @listSize(slicingArguments: ["first"], requireOneSlicingArgument: false) @cost(weight: 2)
}
"""

NESTED = "query($a: Int!, $b: Int) { items(first: $a) { id children(first: $b) { id } } }"
PAGED = "query($a: Int, $b: Int) { page(first: $a, last: $b) { total items { id tags } } }"
SIZES = st.integers(min_value=-(2**31), max_value=2**31 - 1)


def cost_of(document: str, list_size: int = 10) -> OperationCost:
    router = Router(Supergraph.from_sdl(SDL), cost_settings=CostSettings(list_size=list_size))
    cost = router.prepare(document).cost
    assert cost is not None
    return cost


ROUTERS = {size: cost_of(NESTED, size) for size in (0, 10)}
NESTED_COST = cost_of(NESTED)
PAGED_COST = cost_of(PAGED)
THINGS = "{ things { id tags children { id children(discount: 9) { tags } } } }"


@given(a=SIZES, b=SIZES, c=SIZES)
def test_the_estimate_never_falls_when_a_slicing_argument_grows(a: int, b: int, c: int) -> None:
    low, high = sorted((b, c))
    assert (
        NESTED_COST.estimate({"a": a, "b": low}).cost
        <= NESTED_COST.estimate({"a": a, "b": high}).cost
    )
    assert (
        NESTED_COST.estimate({"a": low, "b": a}).cost
        <= NESTED_COST.estimate({"a": high, "b": a}).cost
    )
    assert (
        PAGED_COST.estimate({"a": low, "b": a}).cost
        <= PAGED_COST.estimate({"a": high, "b": a}).cost
    )


@given(a=SIZES, b=st.one_of(st.none(), SIZES))
def test_the_estimate_is_never_negative(a: int, b: int | None) -> None:
    assert NESTED_COST.estimate({"a": a, "b": b}).cost >= 0
    assert PAGED_COST.estimate({"a": a, "b": b}).cost >= 0


@settings(max_examples=25, deadline=None)
@given(small=st.integers(0, 1000), extra=st.integers(0, 1000))
def test_the_estimate_never_falls_when_the_default_list_size_grows(small: int, extra: int) -> None:
    lower = cost_of(THINGS, small).estimate({}).cost
    higher = cost_of(THINGS, small + extra).estimate({}).cost
    assert 0 <= lower <= higher


@st.composite
def answers(draw: Any) -> tuple[dict[str, int], dict[str, Any]]:
    """Variables and an answer whose lists are no longer than the variables allow."""
    a = draw(st.integers(0, 20))
    b = draw(st.integers(0, 20))
    items = [
        None
        if draw(st.booleans()) and draw(st.booleans())
        else {"id": str(n), "children": [{"id": "c"}] * draw(st.integers(0, b))}
        for n in range(draw(st.integers(0, a)))
    ]
    return {"a": a, "b": b}, {"items": items}


@given(answer=answers())
def test_the_actual_cost_of_an_answer_within_the_sizes_never_exceeds_the_estimate(
    answer: tuple[dict[str, int], dict[str, Any]],
) -> None:
    variables, data = answer
    actual = NESTED_COST.actual(data, variables)
    assert 0 <= actual <= NESTED_COST.estimate(variables).cost


def test_the_actual_cost_counts_items_and_per_field_weights() -> None:
    data = {"items": [{"id": "1", "children": [{"id": "x"}, {"id": "y"}]}, None]}
    # one item (1) with a children call (2) and two children (1 each); a null item is nothing
    assert NESTED_COST.actual(data, {"a": 2, "b": 2}) == 1 + 2 + 2


def logistics_router(list_size: int) -> Router:
    """The product's supergraph; its subgraphs are never called here."""
    supergraph = Supergraph.from_sdl(LOGISTICS.read_text())
    nowhere = {graph.name: "http://127.0.0.1:9/graphql" for graph in supergraph.graphs.values()}
    return Router(
        supergraph,
        subgraphs=nowhere,
        cost_settings=CostSettings(list_size=list_size),
        limits=OperationLimits.unlimited(),
    )


LOGISTICS = Path(__file__).resolve().parents[2] / "supergraph.graphql"
SMALL, LARGE = logistics_router(1), logistics_router(100)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(query=hypothesis_graphql.queries(print_schema(SMALL.schema)))
def test_any_query_of_the_logistics_schema_is_costed_and_bounded(query: str) -> None:
    parse(query)  # hypothesis-graphql writes valid documents
    small = SMALL.prepare(query).cost
    large = LARGE.prepare(query).cost
    assert small is not None and large is not None
    estimate = small.estimate({})
    assert 0 <= estimate.cost <= large.estimate({}).cost
