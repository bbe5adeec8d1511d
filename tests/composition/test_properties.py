"""Properties composition must keep whatever the input: order independence, idempotence."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from federation.composition import SubgraphSource, compose

FED2 = (
    'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3",'
    ' import: ["@key", "@shareable", "@external", "@requires", "@tag"])\n'
)
SUBGRAPHS = {
    "orders": FED2 + 'type Query { order(id: ID!): Order } type Order @key(fields: "id")'
    " { id: ID! status: Status! lines: [Line!]! } type Line @shareable { sku: String! qty: Int! }"
    " enum Status { OPEN SHIPPED }",
    "inventory": FED2 + 'type Order @key(fields: "id") { id: ID! lines: [Line!]! @external'
    ' allocatable: Boolean @requires(fields: "lines { sku }") }'
    " type Line @shareable { sku: String! qty: Int! } type Query { skus: [String] }",
    "shipments": FED2 + 'type Query { shipment(id: ID!): Shipment @tag(name: "portal") }'
    ' type Shipment @key(fields: "id") { id: ID! order: Order status: Status }'
    ' type Order @key(fields: "id", resolvable: false) { id: ID! } enum Status { OPEN IN_TRANSIT }',
    "billing": FED2 + 'type Order @key(fields: "id") { id: ID! invoiced: Boolean }',
}

NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=6)
SCALARS = st.sampled_from(["Int", "String", "Boolean", "ID", "Float"])
WRAPPERS = st.sampled_from(["{}", "{}!", "[{}]", "[{}!]!"])


@settings(max_examples=25, deadline=None)
@given(st.permutations(list(SUBGRAPHS)))
def test_subgraph_order_does_not_change_the_supergraph(order: list[str]) -> None:
    expected = compose(SubgraphSource(n, f"http://{n}", SUBGRAPHS[n]) for n in SUBGRAPHS)
    shuffled = compose(SubgraphSource(n, f"http://{n}", SUBGRAPHS[n]) for n in order)
    assert shuffled == expected


@st.composite
def value_type_subgraphs(draw: st.DrawFn) -> str:
    type_names = draw(st.lists(NAMES, min_size=1, max_size=4, unique=True))
    blocks = []
    for type_name in type_names:
        fields = draw(st.lists(NAMES, min_size=1, max_size=5, unique=True))
        body = " ".join(f"{f}: {draw(WRAPPERS).format(draw(SCALARS))}" for f in fields)
        blocks.append(f"type V{type_name} @shareable {{ {body} }}")
    query = " ".join(f"get{n}: V{n} @shareable" for n in type_names)
    return FED2 + f"type Query {{ {query} }} " + " ".join(blocks)


@settings(max_examples=40, deadline=None)
@given(value_type_subgraphs())
def test_value_types_composed_with_themselves_keep_the_same_api_schema(sdl: str) -> None:
    alone = compose([SubgraphSource("one", "http://one", sdl)])
    twice = compose(
        [SubgraphSource("one", "http://one", sdl), SubgraphSource("two", "http://two", sdl)]
    )
    assert twice.api_schema_sdl == alone.api_schema_sdl
    assert "@join__type(graph: TWO)" in twice.supergraph_sdl


@settings(max_examples=40, deadline=None)
@given(SCALARS, WRAPPERS, WRAPPERS)
def test_output_merge_keeps_non_null_only_where_both_subgraphs_have_it(
    scalar: str, first: str, second: str
) -> None:
    if ("[" in first) != ("[" in second):
        return  # a list and a single value never merge
    a = FED2 + f"type Query {{ n: {first.format(scalar)} @shareable }}"
    b = FED2 + f"type Query {{ n: {second.format(scalar)} @shareable }}"
    result = compose([SubgraphSource("a", "http://a", a), SubgraphSource("b", "http://b", b)])
    if "[" in first:
        inner = "!" if "{}!" in first and "{}!" in second else ""
        outer = "!" if first.endswith("]!") and second.endswith("]!") else ""
        expected = f"[{scalar}{inner}]{outer}"
    else:
        expected = scalar + ("!" if first.endswith("!") and second.endswith("!") else "")
    assert f"  n: {expected}\n" in result.api_schema_sdl
