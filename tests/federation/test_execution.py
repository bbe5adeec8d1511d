"""End-to-end execution through the router, with the subgraphs in-process and over HTTP.

Every behaviour is checked on both transports: the router must give identical answers
whether a subgraph runs in this process or behind uvicorn on loopback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from federation.router import Router, Supergraph

pytestmark = pytest.mark.asyncio


@pytest.fixture(params=["inproc", "http"])
async def any_router(
    request: pytest.FixtureRequest, supergraph: Supergraph
) -> AsyncIterator[Router]:
    if request.param == "inproc":
        router = Router(supergraph)
    else:
        router = Router(supergraph, subgraphs=request.getfixturevalue("http_subgraphs"))
    yield router
    await router.aclose()


async def test_entity_fields_from_three_subgraphs_with_requires(any_router: Router) -> None:
    result = await any_router.execute(
        "{ topProducts(first: 2) { upc name inStock shippingEstimate } }"
    )
    assert result == {
        "data": {
            "topProducts": [
                {"upc": "p1", "name": "Pallet jack", "inStock": True, "shippingEstimate": 0},
                {"upc": "p2", "name": "Stretch wrap", "inStock": False, "shippingEstimate": 2},
            ]
        }
    }


async def test_nested_entities_and_lists(any_router: Router) -> None:
    result = await any_router.execute(
        '{ product(upc: "p2") { name reviews { body author { name } } } }'
    )
    assert result["data"] == {
        "product": {
            "name": "Stretch wrap",
            "reviews": [
                {"body": "Tears easily", "author": {"name": "Bob"}},
                {"body": "Good value", "author": {"name": "Ada"}},
            ],
        }
    }
    assert "errors" not in result


async def test_provided_field_needs_no_extra_fetch(any_router: Router) -> None:
    query = "{ latestReviews { id author { username } } }"
    result = await any_router.execute(query)
    assert [r["author"]["username"] for r in result["data"]["latestReviews"]] == [
        "ada",
        "bob",
        "ada",
    ]
    assert [f.subgraph for f in any_router.plan(query).fetches] == ["REVIEWS"]


async def test_union_members_resolved_across_subgraphs(any_router: Router) -> None:
    result = await any_router.execute(
        '{ search(text: "o") { __typename ... on Review { body product { name } } '
        "... on User { username name } } }"
    )
    assert result["data"] == {
        "search": [
            {"__typename": "Review", "body": "Good value", "product": {"name": "Stretch wrap"}},
            {"__typename": "User", "username": "bob", "name": "Bob"},
        ]
    }


async def test_interface_fields_and_type_conditions(any_router: Router) -> None:
    result = await any_router.execute(
        "{ nodes { __typename id ... on User { name } ... on Review { stars } } }"
    )
    assert result["data"] == {
        "nodes": [
            {"__typename": "Review", "id": "r1", "stars": 5},
            {"__typename": "User", "id": "u2", "name": "Bob"},
        ]
    }


async def test_aliases_fragments_and_typename(any_router: Router) -> None:
    query = """
        query Aliased { first: product(upc: "p1") { ...Names kind: __typename }
                        second: product(upc: "p2") { label: name stock: inStock } }
        fragment Names on Product { title: name upc }
    """
    result = await any_router.execute(query, operation_name="Aliased")
    assert result["data"] == {
        "first": {"title": "Pallet jack", "upc": "p1", "kind": "Product"},
        "second": {"label": "Stretch wrap", "stock": False},
    }


@pytest.mark.parametrize(
    ("with_stock", "skip_name", "expected"),
    [
        (True, False, {"name": "Pallet jack", "inStock": True}),
        (False, False, {"name": "Pallet jack"}),
        (True, True, {"inStock": True}),
        (False, True, {}),
    ],
)
async def test_skip_and_include_follow_variables(
    any_router: Router, with_stock: bool, skip_name: bool, expected: dict
) -> None:
    query = """
        query ($stock: Boolean!, $skip: Boolean!) {
          product(upc: "p1") { name @skip(if: $skip) ... @include(if: $stock) { inStock } }
        }
    """
    result = await any_router.execute(query, {"stock": with_stock, "skip": skip_name})
    assert result == {"data": {"product": expected}}


@pytest.mark.parametrize(
    ("first", "order"),
    [(True, ["name", "upc", "price"]), (False, ["upc", "name", "price"])],
)
async def test_a_key_takes_the_place_of_its_first_included_occurrence(
    any_router: Router, first: bool, order: list[str]
) -> None:
    query = """
        query ($first: Boolean!) {
          product(upc: "p1") {
            name @include(if: $first) upc ... on Product { name price }
          }
        }
    """
    result = await any_router.execute(query, {"first": first})
    assert list(result["data"]["product"]) == order
    assert result["data"]["product"]["name"] == "Pallet jack"


async def test_one_mutation_field_selected_twice_runs_once_with_both_selections(
    any_router: Router,
) -> None:
    query = """
        mutation {
          renameProduct(upc: "p1", name: "Pallet jack") { name }
          ... { renameProduct(upc: "p1", name: "Pallet jack") { inStock reviews { stars } } }
        }
    """
    plan = any_router.plan(query)
    assert [fetch.kind for fetch in plan.fetches].count("mutation") == 1
    result = await any_router.execute(query)
    assert "errors" not in result
    assert result["data"] == {
        "renameProduct": {"name": "Pallet jack", "inStock": True, "reviews": [{"stars": 5}]}
    }


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (True, True, {"renameProduct": {"name": "Pallet jack"}}),
        (False, False, {"renameProduct": {"price": 900}}),
        (True, False, {"renameProduct": {"name": "Pallet jack", "price": 900}}),
        (False, True, {}),
    ],
)
async def test_a_mutation_field_under_unrelated_conditions_runs_once_or_not_at_all(
    any_router: Router, a: bool, b: bool, expected: dict
) -> None:
    query = """
        mutation ($a: Boolean!, $b: Boolean!) {
          renameProduct(upc: "p1", name: "Pallet jack") @include(if: $a) { name }
          renameProduct(upc: "p1", name: "Pallet jack") @skip(if: $b) { price }
        }
    """
    (fetch,) = any_router.plan(query).fetches
    assert fetch.run_if == ((("a", True),), (("b", False),))
    result = await any_router.execute(query, {"a": a, "b": b})
    assert result == {"data": expected}


async def test_shareable_root_field_is_served_by_one_subgraph(any_router: Router) -> None:
    query = "{ warehouse { code city docks } }"
    result = await any_router.execute(query)
    assert result["data"] == {"warehouse": {"code": "W1", "city": "Rotterdam", "docks": 12}}
    assert [f.subgraph for f in any_router.plan(query).fetches] == ["INVENTORY"]


async def test_progressive_override_stays_with_old_owner_until_enabled(
    supergraph: Supergraph,
) -> None:
    query = "{ me { nickname } }"
    before = await Router(supergraph).execute(query)
    after = await Router(
        supergraph, enabled_override_labels=frozenset({"nickname-from-accounts"})
    ).execute(query)
    assert before["data"]["me"]["nickname"].endswith("(reviews)")
    assert after["data"] == {"me": {"nickname": "ada (accounts)"}}


async def test_mutation_runs_then_entity_fields_resolve(any_router: Router) -> None:
    query = """
        mutation { a: renameProduct(upc: "p3", name: "Printer") { name inStock }
                   b: renameProduct(upc: "p3", name: "Label printer") { name } }
    """
    result = await any_router.execute(query)
    assert result["data"] == {
        "a": {"name": "Printer", "inStock": True},
        "b": {"name": "Label printer"},
    }
    plan = any_router.plan(query)
    second = next(f for f in plan.fetches if "Label printer" in f.operation)
    assert second.depends_on, "the second mutation field must wait for the first"


async def test_non_null_violation_bubbles_to_nearest_nullable_parent(any_router: Router) -> None:
    result = await any_router.execute("{ ghostReview { body requiredAuthor { name } } }")
    assert result["data"] == {"ghostReview": None}
    assert result["errors"][0]["path"][:2] == ["ghostReview", "requiredAuthor"]


async def test_subgraph_error_keeps_partial_data(any_router: Router) -> None:
    result = await any_router.execute('{ broken product(upc: "p1") { name } }')
    assert result["data"] == {"broken": None, "product": {"name": "Pallet jack"}}
    assert result["errors"] == [{"message": "products is having a bad day", "path": ["broken"]}]


async def test_invalid_enum_value_from_subgraph_becomes_null_with_error(
    any_router: Router,
) -> None:
    result = await any_router.execute("{ badCategory { name category } }")
    assert result["data"] == {"badCategory": {"name": "Label printer", "category": None}}
    assert result["errors"][0]["path"] == ["badCategory", "category"]


async def test_introspection_shows_only_the_api_schema(any_router: Router) -> None:
    result = await any_router.execute('{ __type(name: "User") { fields { name } } }')
    names = {f["name"] for f in result["data"]["__type"]["fields"]}
    assert "email" not in names
    assert {"id", "name", "username", "nickname", "reviews"} <= names


async def test_variables_are_coerced_and_forwarded(any_router: Router) -> None:
    query = "query ($upc: String!) { product(upc: $upc) { name shippingEstimate } }"
    result = await any_router.execute(query, {"upc": "p2"})
    assert result == {"data": {"product": {"name": "Stretch wrap", "shippingEstimate": 2}}}
