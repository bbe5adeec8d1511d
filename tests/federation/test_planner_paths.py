"""Planner and executor paths that need their own small supergraphs.

Each scenario composes a few SDL subgraphs, plans and runs an operation through the router
and checks both the plan and the answer: a field fetched again from another subgraph for
the part of its selection the first cannot serve, @requires of one field with different
arguments (kept apart under private aliases and in separate fetches), sibling fragments
whose fields disagree on type in a subgraph (aliased in the fetch, renamed back), and lists
from two fetches merged item by item.
"""

from __future__ import annotations

import pytest

from federation.composition import compose
from federation.router import Router, Supergraph, print_plan
from tests.federation.sdl_subgraph import SdlSubgraph

pytestmark = pytest.mark.asyncio

LINK = (
    'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", '
    'import: ["@key", "@shareable", "@external", "@requires"])\n'
)


def _router(*subgraphs: SdlSubgraph, supergraph_types: str | None = None) -> Router:
    """A router over the subgraphs: composed, or with the supergraph's types as written
    (for shapes composition here refuses but supergraphs may hold)."""
    if supergraph_types is None:
        sdl = compose([s.source for s in subgraphs]).supergraph_sdl
    else:
        sdl = _supergraph([s.name for s in subgraphs], supergraph_types)
    return Router(Supergraph.from_sdl(sdl), transports={s.name: s for s in subgraphs})


def _supergraph(names: list[str], types: str) -> str:
    graphs = "\n".join(
        f'  {name.upper()} @join__graph(name: "{name}", url: "http://{name}.invalid")'
        for name in names
    )
    return f"""
schema
  @link(url: "https://specs.apollo.dev/link/v1.0")
  @link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION)
{{ query: Query }}
directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet,
  type: String, external: Boolean, override: String, usedOverridden: Boolean)
  repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION
directive @join__graph(name: String!, url: String!) on ENUM_VALUE
directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false,
  resolvable: Boolean! = true, isInterfaceObject: Boolean! = false)
  repeatable on OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR
directive @link(url: String, as: String, for: link__Purpose, import: [link__Import])
  repeatable on SCHEMA
scalar join__FieldSet
scalar link__Import
enum link__Purpose {{ SECURITY EXECUTION }}
enum join__Graph {{
{graphs}
}}
{types}
"""


# -- a field fetched again from another subgraph -----------------------------------------------

CATEGORIES = {"1": [("c1", "Tools", "hand"), ("c2", "Lifting", "hydraulic")]}


def _catalog() -> SdlSubgraph:
    return SdlSubgraph(
        "catalog",
        """
        type Query { topProduct: Product featured: Product }
        type Product { id: ID! name: String categories: [Category] mainCategory: Category }
        type Category { name: String details: String }
        """,
        root={
            "topProduct": {
                "id": "1",
                "name": "Pallet jack",
                "categories": [{"name": n} for _, n, _ in CATEGORIES["1"]],
                "mainCategory": {"name": "Tools"},
            },
            "featured": {"id": "1", "mainCategory": {"name": "Tools", "details": "hand"}},
        },
        entities={"Product": lambda r: {"id": r["id"], "name": "Pallet jack"}},
    )


def _taxonomy() -> SdlSubgraph:
    return SdlSubgraph(
        "taxonomy",
        """
        type Query { _unused: String }
        type Product { id: ID! categories: [Category] mainCategory: Category }
        type Category { id: ID! details: String }
        """,
        entities={
            "Product": lambda r: {
                "id": r["id"],
                "categories": [{"id": c, "details": d} for c, _, d in CATEGORIES[r["id"]]],
                "mainCategory": {"id": "c1", "details": "hand"},
            },
            "Category": lambda r: None,
        },
    )


#: The catalog serves categories without their key: what it cannot serve of them is
#: fetched again, with the product, from the taxonomy.
CATALOG_AND_TAXONOMY = """
type Query @join__type(graph: CATALOG) @join__type(graph: TAXONOMY) {
  topProduct: Product @join__field(graph: CATALOG)
  featured: Product
    @join__field(graph: CATALOG, provides: "mainCategory { ... on Category { details } }")
}
type Product @join__type(graph: CATALOG, key: "id") @join__type(graph: TAXONOMY, key: "id") {
  id: ID!
  name: String @join__field(graph: CATALOG)
  categories: [Category]
  mainCategory: Category
}
type Category @join__type(graph: CATALOG) @join__type(graph: TAXONOMY, key: "id") {
  id: ID! @join__field(graph: TAXONOMY)
  name: String @join__field(graph: CATALOG)
  details: String @join__field(graph: CATALOG, external: true) @join__field(graph: TAXONOMY)
}
"""


async def test_the_part_one_subgraph_cannot_serve_is_fetched_again_from_another() -> None:
    catalog, taxonomy = _catalog(), _taxonomy()
    router = _router(catalog, taxonomy, supergraph_types=CATALOG_AND_TAXONOMY)
    query = "{ topProduct { name categories { name details } } }"
    both = "{ topProduct { mainCategory { name details } } }"
    assert print_plan(router.plan(query)) == (
        "QueryPlan (query) {\n"
        "  Fetch #0 -> CATALOG {\n"
        "    query { topProduct { name categories { name } __typename id } }\n"
        "  }\n"
        "  Fetch #1 -> TAXONOMY at topProduct after #0 {\n"
        "    entities of Product as Product: { id }\n"
        "    query($representations: [_Any!]!) { _entities(representations: $representations)"
        " { ... on Product { categories { details } } } }\n"
        "  }\n"
        "}"
    )
    result = await router.execute(query)
    # The two fetches' lists of categories merge item by item.
    assert result == {
        "data": {
            "topProduct": {
                "name": "Pallet jack",
                "categories": [
                    {"name": "Tools", "details": "hand"},
                    {"name": "Lifting", "details": "hydraulic"},
                ],
            }
        }
    }
    assert len(catalog.requests) == len(taxonomy.requests) == 1
    # One object from each fetch merges key by key.
    assert await router.execute(both) == {
        "data": {"topProduct": {"mainCategory": {"name": "Tools", "details": "hand"}}}
    }


# -- @requires of one field with different arguments --------------------------------------------

WEIGHTS = {"p1": {"KG": 10.0, "LB": 22.0}, "p2": {"KG": 2.0, "LB": 4.4}}


def _products() -> SdlSubgraph:
    return SdlSubgraph(
        "products",
        "type Query { products: [Product] }\n"
        "type Product { id: ID! weight(unit: String!): Float packages: [Package] }\n"
        "type Package { kilograms: Float }",
        root={
            "products": [
                {
                    "id": upc,
                    "weight": lambda unit, upc=upc: WEIGHTS[upc][unit],
                    "packages": [{"kilograms": WEIGHTS[upc]["KG"] / 2}] * 2 + [None],
                }
                for upc in WEIGHTS
            ]
        },
    )


def _shipping() -> SdlSubgraph:
    def cost(representation: dict) -> dict:
        # Which unit the weight is in, only the plan knows: each cost comes from its own fetch.
        if "packages" in representation:
            packages = [package for package in representation["packages"] if package]
            handling = sum(package["kilograms"] for package in packages)
            return {"id": representation["id"], "handlingCost": handling}
        weight = representation["weight"]
        return {"id": representation["id"], "costPerKg": weight * 2, "costPerLb": weight * 3}

    return SdlSubgraph(
        "shipping",
        "type Query { _unused: String }\n"
        "type Product { id: ID! weight(unit: String!): Float costPerKg: Float costPerLb: Float"
        " packages: [Package] handlingCost: Float }\n"
        "type Package { kilograms: Float }",
        entities={"Product": cost},
    )


PRODUCTS_AND_SHIPPING = """
type Query @join__type(graph: PRODUCTS) @join__type(graph: SHIPPING) {
  products: [Product] @join__field(graph: PRODUCTS)
}
type Product @join__type(graph: PRODUCTS, key: "id") @join__type(graph: SHIPPING, key: "id") {
  id: ID!
  weight(unit: String!): Float
    @join__field(graph: PRODUCTS) @join__field(graph: SHIPPING, external: true)
  costPerKg: Float @join__field(graph: SHIPPING, requires: "weight(unit: \\"KG\\")")
  costPerLb: Float @join__field(graph: SHIPPING, requires: "weight(unit: \\"LB\\")")
  packages: [Package]
    @join__field(graph: PRODUCTS) @join__field(graph: SHIPPING, external: true)
  handlingCost: Float @join__field(graph: SHIPPING, requires: "packages { kilograms }")
}
type Package @join__type(graph: PRODUCTS) @join__type(graph: SHIPPING) {
  kilograms: Float
}
"""


async def test_requires_with_different_arguments_use_private_aliases_and_separate_fetches() -> None:
    products, shipping = _products(), _shipping()
    router = _router(products, shipping, supergraph_types=PRODUCTS_AND_SHIPPING)
    query = '{ products { id costPerKg costPerLb kg: weight(unit: "KG") } }'
    plan = router.plan(query)
    root, *entity_fetches = plan.fetches
    assert root.operation.count("weight__rq_") == 2, root.operation
    assert 'kg: weight(unit: "KG")' in root.operation
    assert sorted(f.operation.split("Product { ")[1] for f in entity_fetches) == [
        "costPerKg } } }",
        "costPerLb } } }",
    ]
    result = await router.execute(query)
    assert "errors" not in result
    assert result["data"] == {
        "products": [
            {"id": "p1", "costPerKg": 20.0, "costPerLb": 66.0, "kg": 10.0},
            {"id": "p2", "costPerKg": 4.0, "costPerLb": pytest.approx(13.2), "kg": 2.0},
        ]
    }
    sent = sorted(
        r["weight"] for request in shipping.requests for r in request.variables["representations"]
    )
    assert sent == [2.0, 4.4, 10.0, 22.0]


# -- sibling fragments whose fields disagree on type in one subgraph ---------------------------


def _inventory() -> SdlSubgraph:
    return SdlSubgraph(
        "inventory",
        LINK
        + """
        type Query { things: [Thing] }
        union Thing = Box | Crate
        type Box @shareable { size: Int! }
        type Crate { size: Int }
        """,
        root={"things": [{"__typename": "Box", "size": 1}, {"__typename": "Crate", "size": None}]},
    )


def _warehouse() -> SdlSubgraph:
    return SdlSubgraph(
        "warehouse",
        LINK + "type Query { box: Box }\ntype Box @shareable { size: Int }\n",
        root={"box": {"size": 3}},
    )


async def test_fields_of_sibling_fragments_that_disagree_on_type_are_aliased_and_renamed_back() -> (
    None
):
    router = _router(_inventory(), _warehouse())
    query = "{ things { ... on Box { size } ... on Crate { size } } }"
    (fetch,) = router.plan(query).fetches
    assert fetch.aliased and "size__fa_" in fetch.operation, fetch.operation
    result = await router.execute(query)
    assert result == {"data": {"things": [{"size": 1}, {"size": None}]}}


async def test_a_requirement_with_a_nested_list_is_read_into_each_representation() -> None:
    products, shipping = _products(), _shipping()
    router = _router(products, shipping, supergraph_types=PRODUCTS_AND_SHIPPING)
    assert "entities of Product as Product: { id packages { kilograms } }" in print_plan(
        router.plan("{ products { id handlingCost } }")
    )
    result = await router.execute("{ products { id handlingCost } }")
    assert result == {
        "data": {
            "products": [{"id": "p1", "handlingCost": 10.0}, {"id": "p2", "handlingCost": 2.0}]
        }
    }
    (request,) = shipping.requests
    assert request.variables["representations"][0] == {
        "__typename": "Product",
        "id": "p1",
        "packages": [{"kilograms": 5.0}, {"kilograms": 5.0}, None],
    }


async def test_a_field_provided_under_a_type_condition_is_served_where_it_is_provided() -> None:
    catalog, taxonomy = _catalog(), _taxonomy()
    router = _router(catalog, taxonomy, supergraph_types=CATALOG_AND_TAXONOMY)
    query = "{ featured { mainCategory { details } } topProduct { mainCategory { details } } }"
    result = await router.execute(query)
    assert result == {
        "data": {
            "featured": {"mainCategory": {"details": "hand"}},
            "topProduct": {"mainCategory": {"details": "hand"}},
        }
    }
    # Provided under featured only: topProduct's details still come from the taxonomy.
    assert [len(catalog.requests), len(taxonomy.requests)] == [1, 1]
