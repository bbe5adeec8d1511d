"""Query plans: a pure function of (supergraph, operation), printable and cacheable."""

from __future__ import annotations

import orjson
from graphql import parse

from gateway.federation import Router, Supergraph, print_plan
from gateway.federation.operation import normalize, select_operation
from gateway.federation.planner import plan_operation


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
