"""Loading a supergraph and deriving the API schema clients see."""

from __future__ import annotations

import pytest
from graphql import GraphQLEnumType, GraphQLObjectType, print_schema

from federation.router import Supergraph, SupergraphError


def test_subgraphs_are_read_from_join_graph(supergraph: Supergraph) -> None:
    names = {graph.name: graph.url for graph in supergraph.graphs.values()}
    assert names["products"] == "inproc:tests.federation.subgraphs.products:schema"
    assert set(names) == {"products", "inventory", "accounts", "reviews"}


def test_keys_requires_provides_and_override_are_read(supergraph: Supergraph) -> None:
    assert [k.fields for k in supergraph.resolvable_keys("Product", "INVENTORY")] == ["upc"]
    estimate = supergraph.fields[("Product", "shippingEstimate")].graphs["INVENTORY"]
    assert estimate.requires is not None
    author = supergraph.fields[("Review", "author")].graphs["REVIEWS"]
    assert author.provides is not None
    nickname = supergraph.fields[("User", "nickname")].graphs["ACCOUNTS"]
    assert (nickname.override, nickname.override_label) == ("reviews", "nickname-from-accounts")


def test_api_schema_drops_federation_machinery(supergraph: Supergraph) -> None:
    printed = print_schema(supergraph.api_schema)
    assert "join__" not in printed
    assert "link__" not in printed
    assert "@inaccessible" not in printed
    assert "_entities" not in printed


def test_api_schema_drops_inaccessible_fields_and_enum_values(supergraph: Supergraph) -> None:
    user = supergraph.api_schema.type_map["User"]
    assert isinstance(user, GraphQLObjectType)
    assert "email" not in user.fields
    category = supergraph.api_schema.type_map["Category"]
    assert isinstance(category, GraphQLEnumType)
    assert set(category.values) == {"TOOLS", "PACKING"}


def test_unknown_execution_feature_is_refused() -> None:
    sdl = """
    schema
      @link(url: "https://specs.apollo.dev/link/v1.0")
      @link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION)
      @link(url: "https://example.com/magic/v1.0", for: EXECUTION)
    { query: Query }
    enum join__Graph { A @join__graph(name: "a", url: "http://a") }
    type Query @join__type(graph: A) { hello: String }
    """
    with pytest.raises(SupergraphError, match="magic"):
        Supergraph.from_sdl(sdl)


def test_a_document_without_join_is_not_a_supergraph() -> None:
    with pytest.raises(SupergraphError):
        Supergraph.from_sdl("type Query { hello: String }")


def test_fed1_style_supergraph_with_extension_loads() -> None:
    sdl = """
    schema
      @link(url: "https://specs.apollo.dev/link/v1.0")
      @link(url: "https://specs.apollo.dev/join/v0.1", for: EXECUTION)
    { query: Query }
    directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false)
      repeatable on OBJECT | INTERFACE
    directive @join__field(graph: join__Graph, requires: join__FieldSet,
      provides: join__FieldSet, external: Boolean) on FIELD_DEFINITION
    directive @join__graph(name: String!, url: String!) on ENUM_VALUE
    scalar join__FieldSet
    enum join__Graph {
      A @join__graph(name: "a", url: "http://a")
      B @join__graph(name: "b", url: "http://b")
    }
    type Query @join__type(graph: A) { me: User @join__field(graph: A) }
    type User @join__type(graph: A, key: "id") @join__type(graph: B, key: "id", extension: true) {
      id: ID!
      name: String @join__field(graph: B)
    }
    """
    supergraph = Supergraph.from_sdl(sdl)
    assert supergraph.type_in_graph("User", "B").extension is True
    assert "name" in supergraph.api_schema.type_map["User"].fields  # type: ignore[union-attr]


def test_access_and_cost_directives_are_kept_as_metadata() -> None:
    sdl = """
    schema
      @link(url: "https://specs.apollo.dev/link/v1.0")
      @link(url: "https://specs.apollo.dev/join/v0.5", for: EXECUTION)
      @link(url: "https://specs.apollo.dev/requiresScopes/v0.1")
      @link(url: "https://specs.apollo.dev/authenticated/v0.1")
    { query: Query }
    directive @authenticated on FIELD_DEFINITION | OBJECT
    directive @requiresScopes(scopes: [[String!]!]!) on FIELD_DEFINITION | OBJECT
    enum join__Graph { A @join__graph(name: "a", url: "http://a") }
    type Query @join__type(graph: A) {
      me: String @authenticated
      secret: String @requiresScopes(scopes: [["admin"]])
    }
    """
    supergraph = Supergraph.from_sdl(sdl)
    assert supergraph.policies == {
        "Query.me": (("authenticated", {}),),
        "Query.secret": (("requiresScopes", {"scopes": [["admin"]]}),),
    }
    assert "@authenticated" not in print_schema(supergraph.api_schema)


_FED1_WITH_INTERFACE = """
schema
  @core(feature: "https://specs.apollo.dev/core/v0.2")
  @core(feature: "https://specs.apollo.dev/join/v0.1", for: EXECUTION)
  @core(feature: "https://example.com/unversioned")
{ query: Query }
directive @join__type(graph: join__Graph!, key: join__FieldSet) repeatable on OBJECT | INTERFACE
directive @join__field(graph: join__Graph, requires: join__FieldSet,
  provides: join__FieldSet) on FIELD_DEFINITION
directive @join__graph(name: String!, url: String!) on ENUM_VALUE
scalar join__FieldSet
enum join__Graph {
  A @join__graph(name: "a", url: "http://a")
  B @join__graph(name: "b", url: "http://b")
}
interface Node { id: ID! }
type Query @join__type(graph: A) { node: Node @join__field(graph: A) }
type User implements Node @join__type(graph: A, key: "id") @join__type(graph: B, key: "id") {
  id: ID!
  name: String @join__field(graph: B)
}
type Money { amount: Int }
"""


def test_join_v01_interfaces_and_value_types_hold_in_every_subgraph_of_the_type() -> None:
    supergraph = Supergraph.from_sdl(_FED1_WITH_INTERFACE)
    assert supergraph.possible_types_in_graph("Node", "B") == frozenset({"User"})
    assert set(supergraph.graphs_of_type("Money")) == {"A", "B"}
    assert [link.name for link in supergraph.links] == [
        "core",
        "join",
        "https://example.com/unversioned",
    ]


@pytest.mark.parametrize(
    ("sdl", "message"),
    [
        ("type Query {", "not valid SDL"),
        (
            _FED1_WITH_INTERFACE.replace(
                'key: "id") @join__type(graph: B', 'key: "{") @join__type(graph: B'
            ),
            "invalid field set",
        ),
        (
            _FED1_WITH_INTERFACE.replace(
                '  A @join__graph(name: "a", url: "http://a")\n'
                '  B @join__graph(name: "b", url: "http://b")\n',
                "",
            ).replace("enum join__Graph {\n}", "enum join__Graph"),
            "declares no subgraphs",
        ),
    ],
)
def test_a_supergraph_that_cannot_be_served_is_refused(sdl: str, message: str) -> None:
    with pytest.raises(SupergraphError, match=message):
        Supergraph.from_sdl(sdl)


def test_imports_and_renamed_specs_are_read_from_link() -> None:
    sdl = """
    schema
      @link(url: "https://specs.apollo.dev/link/v1.0")
      @link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION)
      @link(
        url: "https://specs.apollo.dev/tag/v0.3"
        as: "label"
        import: ["@label", {name: "@x", as: "@y"}]
      )
    { query: Query }
    enum join__Graph { A @join__graph(name: "a", url: "http://a") }
    type Query @join__type(graph: A) { hello: String }
    """
    (tag,) = [link for link in Supergraph.from_sdl(sdl).links if link.name == "tag"]
    assert (tag.prefix, tag.imports) == ("label__", ("label", "y"))
    assert Supergraph.from_sdl(sdl).resolvable_keys("Missing", "A") == ()


def test_the_api_schema_keeps_custom_directives_and_drops_what_reaches_hidden_types() -> None:
    sdl = """
    schema
      @link(url: "https://specs.apollo.dev/link/v1.0")
      @link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION)
      @link(url: "https://specs.apollo.dev/inaccessible/v0.2", for: SECURITY)
    { query: Query }
    directive @audit on FIELD_DEFINITION
    directive @inaccessible on OBJECT | FIELD_DEFINITION
    enum join__Graph { A @join__graph(name: "a", url: "http://a") }
    type Query @join__type(graph: A) {
      hello: String @audit
      secret: Secret
      any: Thing
    }
    type Secret @inaccessible @join__type(graph: A) { x: Int }
    type Open @join__type(graph: A) { y: Int }
    union Thing @join__type(graph: A) = Secret | Open
    """
    printed = print_schema(Supergraph.from_sdl(sdl).api_schema)
    assert "directive @audit on FIELD_DEFINITION" in printed
    assert "hello: String" in printed
    assert "Secret" not in printed
    assert "union Thing = Open" in printed
