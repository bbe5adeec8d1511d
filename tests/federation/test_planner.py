"""Query plans: a pure function of (supergraph, operation), printable and cacheable."""

from __future__ import annotations

import orjson
from graphql import parse

from federation.router import Router, Supergraph, print_plan
from federation.router.operation import normalize, select_operation
from federation.router.planner import plan_operation


def _plan(supergraph: Supergraph, query: str, labels: frozenset[str] = frozenset()) -> str:
    document = parse(query)
    operation = select_operation(document, None)
    kind = operation.operation.value
    normalized = normalize(document, operation, supergraph.root_types[kind])
    return print_plan(plan_operation(supergraph, normalized, labels))


def test_plan_snapshot_entity_chain_with_requires(supergraph: Supergraph) -> None:
    assert _plan(
        supergraph, "{ topProducts { name shippingEstimate reviews { author { name } } } }"
    ) == (
        "QueryPlan (query) {\n"
        "  Fetch #0 -> PRODUCTS {\n"
        "    query { topProducts { name __typename upc price weight } }\n"
        "  }\n"
        "  Fetch #1 -> INVENTORY at topProducts after #0 {\n"
        "    entities of Product as Product: { upc price weight }\n"
        "    query($representations: [_Any!]!) { _entities(representations: $representations)"
        " { ... on Product { shippingEstimate } } }\n"
        "  }\n"
        "  Fetch #2 -> REVIEWS at topProducts after #0 {\n"
        "    entities of Product as Product: { upc }\n"
        "    query($representations: [_Any!]!) { _entities(representations: $representations)"
        " { ... on Product { reviews { author { __typename id } } } } }\n"
        "  }\n"
        "  Fetch #3 -> ACCOUNTS at topProducts.reviews.author after #2 {\n"
        "    entities of User as User: { id }\n"
        "    query($representations: [_Any!]!) { _entities(representations: $representations)"
        " { ... on User { name } } }\n"
        "  }\n"
        "}"
    )


def test_plan_snapshot_provides_and_abstract_types(supergraph: Supergraph) -> None:
    assert _plan(
        supergraph, '{ search(text: "a") { ... on User { username } ... on Review { stars } } }'
    ) == (
        "QueryPlan (query) {\n"
        "  Fetch #0 -> REVIEWS {\n"
        '    query { search(text: "a") { __typename ... on Review { stars } '
        "... on User { __typename id } } }\n"
        "  }\n"
        "  Fetch #1 -> ACCOUNTS at search after #0 {\n"
        "    entities of User as User: { id }\n"
        "    query($representations: [_Any!]!) { _entities(representations: $representations)"
        " { ... on User { username } } }\n"
        "  }\n"
        "}"
    )


def test_variables_sent_only_where_used(supergraph: Supergraph) -> None:
    router = Router(supergraph)
    plan = router.plan(
        "query ($upc: String!, $stock: Boolean!) "
        "{ product(upc: $upc) { name ... @include(if: $stock) { inStock } } }"
    )
    # The entity fetch runs only for objects whose keys the conditional fragment fetched.
    assert [fetch.variables for fetch in plan.fetches] == [("stock", "upc"), ()]
    assert "@include(if: $stock)" in plan.fetches[0].operation


async def test_a_string_that_looks_like_a_variable_declares_none(supergraph: Supergraph) -> None:
    router = Router(supergraph)
    query = (
        "query ($upc: String!) { product(upc: $upc) { name } "
        'search(text: "$upc") { ... on Review { stars } } }'
    )
    plan = router.plan(query)
    by_subgraph = {fetch.subgraph: fetch for fetch in plan.fetches}
    assert by_subgraph["PRODUCTS"].variables == ("upc",)
    assert by_subgraph["REVIEWS"].variables == ()
    assert by_subgraph["REVIEWS"].operation.startswith("query { search(")
    result = await router.execute(query, {"upc": "p1"})
    assert "errors" not in result


def test_override_label_moves_the_field(supergraph: Supergraph) -> None:
    without = _plan(supergraph, "{ me { nickname } }")
    with_label = _plan(supergraph, "{ me { nickname } }", frozenset({"nickname-from-accounts"}))
    assert "REVIEWS" in without
    assert "REVIEWS" not in with_label


def test_mutation_fields_are_sequential(supergraph: Supergraph) -> None:
    router = Router(supergraph)
    plan = router.plan(
        'mutation { a: renameProduct(upc: "p1", name: "x") { name } '
        'b: renameProduct(upc: "p1", name: "y") { name } }'
    )
    assert [fetch.depends_on for fetch in plan.fetches] == [(), (0,)]


def test_plans_are_cached_per_document_and_operation_name(supergraph: Supergraph) -> None:
    router = Router(supergraph)
    query = "query A { me { name } } query B { topProducts { name } }"
    assert router.prepare(query, "A") is router.prepare(query, "A")
    assert router.plan(query, "A") != router.plan(query, "B")


def test_plan_serializes_to_json(supergraph: Supergraph) -> None:
    plan = Router(supergraph).plan('{ product(upc: "p1") { inStock } }')
    decoded = orjson.loads(orjson.dumps(plan.to_dict()))
    assert decoded["kind"] == "query"
    assert [f["subgraph"] for f in decoded["fetches"]] == ["PRODUCTS", "INVENTORY"]


_KEYS_SDL = """
schema
  @link(url: "https://specs.apollo.dev/link/v1.0")
  @link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION)
{ query: Query }
directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false,
  resolvable: Boolean! = true, isInterfaceObject: Boolean! = false)
  repeatable on OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR
directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet,
  type: String, external: Boolean, override: String, usedOverridden: Boolean)
  repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION
directive @join__graph(name: String!, url: String!) on ENUM_VALUE
scalar join__FieldSet
enum join__Graph {
  A @join__graph(name: "a", url: "http://a")
  B @join__graph(name: "b", url: "http://b")
  C @join__graph(name: "c", url: "http://c")
}
type Query @join__type(graph: A) @join__type(graph: B) @join__type(graph: C) {
  depots: [Depot] @join__field(graph: B)
}
type Depot
  @join__type(graph: A, key: "id")
  @join__type(graph: B, key: "id", resolvable: false)
  @join__type(graph: C, key: "code", extension: true)
{
  id: ID! @join__field(graph: A) @join__field(graph: B)
  code: String! @join__field(graph: A) @join__field(graph: C, external: true)
  name: String @join__field(graph: A)
  capacity: Int @join__field(graph: C)
}
"""


def test_unresolvable_key_is_only_a_reference_and_keys_chain() -> None:
    supergraph = Supergraph.from_sdl(_KEYS_SDL)
    assert _plan(supergraph, "{ depots { name capacity } }") == (
        "QueryPlan (query) {\n"
        "  Fetch #0 -> B {\n"
        "    query { depots { __typename id } }\n"
        "  }\n"
        "  Fetch #1 -> A at depots after #0 {\n"
        "    entities of Depot as Depot: { id }\n"
        "    query($representations: [_Any!]!) { _entities(representations: $representations)"
        " { ... on Depot { name code } } }\n"
        "  }\n"
        "  Fetch #2 -> C at depots after #0, #1 {\n"
        "    entities of Depot as Depot: { code }\n"
        "    query($representations: [_Any!]!) { _entities(representations: $representations)"
        " { ... on Depot { capacity } } }\n"
        "  }\n"
        "}"
    )


def test_a_fetch_that_runs_under_conditions_says_so(supergraph: Supergraph) -> None:
    query = (
        "mutation ($a: Boolean!, $b: Boolean!) {"
        ' renameProduct(upc: "p1", name: "x") @include(if: $a) { name }'
        ' renameProduct(upc: "p1", name: "x") @skip(if: $b) { price } }'
    )
    plan = Router(supergraph).plan(query)
    assert print_plan(plan).splitlines()[1] == "  Fetch #0 -> PRODUCTS if $a or not $b {"
    assert plan.to_dict()["fetches"][0]["runIf"] == [[["a", True]], [["b", False]]]


def test_representations_print_with_their_nested_selections(supergraph: Supergraph) -> None:
    printed = _plan(supergraph, "{ nodes { ... on User { name } } }")
    assert "entities of User as User: { id }" in printed
