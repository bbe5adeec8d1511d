"""Each federation directive's effect on the supergraph."""

from __future__ import annotations


def test_single_subgraph_field_gets_no_join_field_when_type_lives_only_there(supergraph_of, fed2):
    s = supergraph_of(a=fed2 + "type Query { hello: String }")
    assert s.field_directives("Query.hello") == []
    assert s.type_directives("Query") == ["@join__type(graph: A)"]


def test_every_subgraph_gets_a_join_type_on_query(supergraph_of, fed2):
    s = supergraph_of(
        a=fed2 + "type Query { a: Int }",
        b=fed2 + 'type T @key(fields: "id") { id: ID! }',
    )
    assert s.type_directives("Query") == ["@join__type(graph: A)", "@join__type(graph: B)"]
    assert s.field_directives("Query.a") == ["@join__field(graph: A)"]


def test_compound_and_multiple_keys_each_get_a_join_type(supergraph_of, fed2):
    s = supergraph_of(
        a=fed2 + 'type Query { p: P } type P @key(fields: "id") @key(fields: "sku pkg { id }")'
        " { id: ID! sku: String! pkg: Pkg } type Pkg { id: ID! }"
    )
    assert s.type_directives("P") == [
        '@join__type(graph: A, key: "id")',
        '@join__type(graph: A, key: "sku pkg { id }")',
    ]


def test_resolvable_false_and_extension_are_recorded(supergraph_of, fed2):
    s = supergraph_of(
        a=fed2 + 'type Query { t: T } type T @key(fields: "id", resolvable: false) { id: ID! }',
        b=fed2 + 'extend type T @key(fields: "id") { id: ID! name: String }',
    )
    assert s.type_directives("T") == [
        '@join__type(graph: A, key: "id", resolvable: false)',
        '@join__type(graph: B, key: "id", extension: true)',
    ]


def test_extends_directive_marks_the_key_as_extension(supergraph_of, fed2):
    s = supergraph_of(
        a=fed2 + 'type Query { t: T } type T @key(fields: "id") { id: ID! }',
        b=fed2 + 'type T @key(fields: "id") @extends { id: ID! name: String }',
    )
    assert '@join__type(graph: B, key: "id", extension: true)' in s.type_directives("T")


def test_requires_and_external(supergraph_of, fed2):
    s = supergraph_of(
        a=fed2 + 'type Query { p: P } type P @key(fields: "id") { id: ID! weight: Int }',
        b=fed2 + 'type P @key(fields: "id") { id: ID! weight: Int @external'
        ' shipping: Int @requires(fields: "weight") }',
    )
    assert s.field_directives("P.weight") == [
        "@join__field(graph: A)",
        "@join__field(graph: B, external: true)",
    ]
    assert s.field_directives("P.shipping") == ['@join__field(graph: B, requires: "weight")']
    assert s.field_directives("P.id") == []


def test_provides(supergraph_of, fed2):
    s = supergraph_of(
        a=fed2 + 'type P @key(fields: "id") { id: ID! name: String @shareable }',
        b=fed2 + 'type Query { p: P @provides(fields: "name") }'
        ' type P @key(fields: "id") { id: ID! name: String @external }',
    )
    assert s.field_directives("Query.p") == ['@join__field(graph: B, provides: "name")']


def test_shareable_value_type_needs_no_join_field(supergraph_of, fed2):
    value = "type Money @shareable { amount: Float! currency: String! }"
    s = supergraph_of(
        a=fed2 + "type Query { a: Money } " + value,
        b=fed2 + "type Query { b: Money } " + value,
    )
    assert s.field_directives("Money.amount") == []
    assert s.type_directives("Money") == ["@join__type(graph: A)", "@join__type(graph: B)"]


def test_override_drops_the_unused_source(supergraph_of, fed2):
    s = supergraph_of(
        a=fed2 + 'type Query { p: P } type P @key(fields: "id") { id: ID! stock: Int }',
        b=fed2 + 'type P @key(fields: "id") { id: ID! stock: Int @override(from: "a") }',
    )
    assert s.field_directives("P.stock") == ['@join__field(graph: B, override: "a")']


def test_override_of_a_field_still_used_by_the_source_marks_it_used_overridden(supergraph_of, fed2):
    s = supergraph_of(
        a=fed2 + 'type Query { p: P } type P @key(fields: "id") @key(fields: "w")'
        " { id: ID! w: Int }",
        b=fed2 + 'type P @key(fields: "id") { id: ID! w: Int @override(from: "a") }',
    )
    assert s.field_directives("P.w") == [
        "@join__field(graph: A, usedOverridden: true)",
        '@join__field(graph: B, override: "a")',
    ]


def test_progressive_override_label_uses_join_v0_4(supergraph_of):
    fed27 = (
        'extend schema @link(url: "https://specs.apollo.dev/federation/v2.7",'
        ' import: ["@key", "@override"])\n'
    )
    s = supergraph_of(
        a=fed27 + 'type Query { p: P } type P @key(fields: "id") { id: ID! stock: Int }',
        b=fed27 + 'type P @key(fields: "id") { id: ID! stock: Int'
        ' @override(from: "a", label: "percent(5)") }',
    )
    assert '@link(url: "https://specs.apollo.dev/join/v0.4", for: EXECUTION)' in s.sdl
    assert s.field_directives("P.stock") == [
        '@join__field(graph: A, overrideLabel: "percent(5)")',
        '@join__field(graph: B, override: "a", overrideLabel: "percent(5)")',
    ]


def test_inaccessible_is_kept_in_supergraph_and_removed_from_api(composed, fed2):
    s, result = composed(a=fed2 + "type Query { a: Int b: Int @inaccessible }")
    assert "@inaccessible" in s.field_directives("Query.b")
    assert '@link(url: "https://specs.apollo.dev/inaccessible/v0.2", for: SECURITY)' in s.sdl
    assert "b: Int" not in result.api_schema_sdl


def test_inaccessible_enum_value_type_and_argument_are_removed_from_api(composed, fed2):
    _, result = composed(
        a=fed2 + "type Query { a(x: Int @inaccessible, y: Int): E h: Hidden @inaccessible }"
        " enum E { ON OFF @inaccessible } type Hidden @inaccessible { z: Int }"
    )
    api = result.api_schema_sdl
    assert "a(y: Int): E" in api
    assert "OFF" not in api and "Hidden" not in api


def test_tags_from_all_subgraphs_are_unioned(supergraph_of, fed2):
    s = supergraph_of(
        a=fed2 + 'type Query { n: Int @shareable @tag(name: "a") }',
        b=fed2 + 'type Query { n: Int @shareable @tag(name: "b") @tag(name: "a") }',
    )
    assert s.field_directives("Query.n") == ['@tag(name: "a")', '@tag(name: "b")']


def test_authenticated_requires_scopes_and_policy_pass_through(supergraph_of, fed2):
    s = supergraph_of(
        a=fed2 + 'type Query { a: Int @authenticated b: Int @requiresScopes(scopes: [["x"]])'
        ' c: Int @policy(policies: [["p"]]) }'
    )
    assert s.field_directives("Query.a") == ["@authenticated"]
    assert s.field_directives("Query.b") == ['@requiresScopes(scopes: [["x"]])']
    assert s.field_directives("Query.c") == ['@policy(policies: [["p"]])']
    assert "scalar requiresScopes__Scope" in s.sdl and "scalar policy__Policy" in s.sdl


def test_requires_scopes_from_two_subgraphs_must_all_hold(supergraph_of, fed2):
    s = supergraph_of(
        a=fed2 + 'type Query { n: Int @shareable @requiresScopes(scopes: [["c"]]) }',
        b=fed2 + 'type Query { n: Int @shareable @requiresScopes(scopes: [["a"], ["b"]]) }',
    )
    assert s.field_directives("Query.n") == ['@requiresScopes(scopes: [["a", "c"], ["b", "c"]])']


def test_cost_and_list_size_use_join_v0_5_and_take_maximum(supergraph_of):
    fed29 = (
        'extend schema @link(url: "https://specs.apollo.dev/federation/v2.9",'
        ' import: ["@key", "@shareable", "@cost", "@listSize"])\n'
    )
    s = supergraph_of(
        a=fed29 + "type Query { n(first: Int @cost(weight: 2)): [Int] @shareable @cost(weight: 3)"
        ' @listSize(slicingArguments: ["first"]) }',
        b=fed29 + "type Query { n(first: Int): [Int] @shareable @cost(weight: 7) }",
    )
    assert '@link(url: "https://specs.apollo.dev/join/v0.5", for: EXECUTION)' in s.sdl
    assert '@link(url: "https://specs.apollo.dev/cost/v0.1", import: ["@listSize"])' in s.sdl
    assert s.field_directives("Query.n") == [
        "@cost(weight: 7)",
        '@listSize(slicingArguments: ["first"])',
    ]
    assert "input join__ContextArgument" in s.sdl


def test_compose_directive_emits_its_link_definition_and_applications(supergraph_of):
    sdl = (
        'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3",'
        ' import: ["@key", "@composeDirective"])'
        ' @link(url: "https://logistics.dev/cache/v1.0", import: ["@cacheHint"])'
        ' @composeDirective(name: "@cacheHint")\n'
        "directive @cacheHint(seconds: Int) on FIELD_DEFINITION\n"
        "type Query { a: Int @cacheHint(seconds: 30) }"
    )
    s = supergraph_of(a=sdl)
    assert '@link(url: "https://logistics.dev/cache/v1.0", import: ["@cacheHint"])' in s.sdl
    assert "directive @cacheHint(seconds: Int) on FIELD_DEFINITION" in s.sdl
    assert s.field_directives("Query.a") == ["@cacheHint(seconds: 30)"]


def test_uncomposed_custom_directives_are_dropped(supergraph_of, fed2):
    s = supergraph_of(a=fed2 + "directive @audit on FIELD_DEFINITION type Query { a: Int @audit }")
    assert "audit" not in s.sdl


def test_interfaces_get_join_implements(supergraph_of, fed2):
    s = supergraph_of(
        a=fed2 + "type Query { n: Node } interface Node { id: ID! }"
        " type Order implements Node { id: ID! }"
    )
    assert s.type_directives("Order") == [
        '@join__implements(graph: A, interface: "Node")',
        "@join__type(graph: A)",
    ]


def test_interface_object_adds_fields_to_the_interface_and_its_implementations(supergraph_of, fed2):
    s = supergraph_of(
        a=fed2 + 'type Query { d: Document } interface Document @key(fields: "id") { id: ID! }'
        ' type Invoice implements Document @key(fields: "id") { id: ID! }',
        b=fed2 + 'type Document @key(fields: "id") @interfaceObject { id: ID! url: String }',
    )
    assert s.definition("Document").kind == "interface_type_definition"
    assert '@join__type(graph: B, key: "id", isInterfaceObject: true)' in s.type_directives(
        "Document"
    )
    assert s.field_directives("Document.url") == ["@join__field(graph: B)"]
    assert s.field_directives("Invoice.url") == ["@join__field"]


def test_union_members_are_unioned_with_join_union_member(supergraph_of, fed2):
    s = supergraph_of(
        a=fed2 + "type Query { r: R } union R = A type A { a: Int }",
        b=fed2 + "type Query { s: R @shareable } union R = B type B { b: Int }",
    )
    assert s.type_directives("R") == [
        "@join__type(graph: A)",
        "@join__type(graph: B)",
        '@join__unionMember(graph: A, member: "A")',
        '@join__unionMember(graph: B, member: "B")',
    ]
    assert "union R\n" in s.sdl and "= A | B" in s.sdl


def test_output_enum_values_are_unioned_with_join_enum_value(supergraph_of, fed2):
    s = supergraph_of(
        a=fed2 + "type Query { a: E } enum E { ON OFF }",
        b=fed2 + "type Query { b: E } enum E { ON PAUSED }",
    )
    assert s.enum_values("E") == {
        "ON": ["@join__enumValue(graph: A)", "@join__enumValue(graph: B)"],
        "OFF": ["@join__enumValue(graph: A)"],
        "PAUSED": ["@join__enumValue(graph: B)"],
    }


def test_input_only_enum_keeps_the_common_values(supergraph_of, fed2):
    s = supergraph_of(
        a=fed2 + "type Query { a(e: E): Int } enum E { ON OFF }",
        b=fed2 + "type Query { b(e: E): Int } enum E { ON PAUSED }",
    )
    assert list(s.enum_values("E")) == ["ON"]


def test_nullable_wins_for_output_and_records_each_type(supergraph_of, fed2):
    s = supergraph_of(
        a=fed2 + 'type Query { p: P } type P @key(fields: "id") { id: ID! n: Int @shareable }',
        b=fed2 + 'type P @key(fields: "id") { id: ID! n: Int! @shareable }',
    )
    assert s.field_type("P.n") == "Int"
    assert s.field_directives("P.n") == [
        '@join__field(graph: A, type: "Int")',
        '@join__field(graph: B, type: "Int!")',
    ]


def test_output_field_may_widen_to_an_interface(supergraph_of, fed2):
    s = supergraph_of(
        a=fed2 + "type Query { n: Node @shareable } interface Node { id: ID! }"
        " type O implements Node @shareable { id: ID! }",
        b=fed2 + "type Query { n: O @shareable } type O { id: ID! @shareable }",
    )
    assert s.field_type("Query.n") == "Node"


def test_input_fields_are_intersected_and_non_null_wins(supergraph_of, fed2):
    s = supergraph_of(
        a=fed2 + "type Query { a(f: F): Int } input F { min: Int max: Int! extra: String }",
        b=fed2 + "type Query { b(f: F): Int } input F { min: Int! max: Int! }",
    )
    assert s.field_names("F") == ["min", "max"]
    assert s.field_type("F.min") == "Int!"
    assert s.field_directives("F.min") == [
        '@join__field(graph: A, type: "Int")',
        '@join__field(graph: B, type: "Int!")',
    ]


def test_arguments_are_intersected_and_non_null_wins(supergraph_of, fed2):
    s = supergraph_of(
        a=fed2 + "type Query { n(a: Int, b: Int): Int @shareable }",
        b=fed2 + "type Query { n(a: Int!): Int @shareable }",
    )
    arguments = {a.name.value: a for a in s.field("Query.n").arguments}
    assert list(arguments) == ["a"]
    from graphql import print_ast

    assert print_ast(arguments["a"].type) == "Int!"


def test_custom_root_type_names_become_standard(supergraph_of, fed2):
    s = supergraph_of(
        a=fed2 + "schema { query: RootQuery mutation: Commands }"
        " type RootQuery { a: Int } type Commands { go: Int }"
    )
    assert s.field_names("Query") == ["a"]
    assert s.field_names("Mutation") == ["go"]
    assert not s.has_type("RootQuery")


def test_renamed_and_namespaced_federation_imports(supergraph_of):
    sdl = (
        'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", as: "fed",'
        ' import: [{ name: "@key", as: "@entity" }])\n'
        'type Query { p: P } type P @entity(fields: "id") { id: ID! n: Int @fed__shareable }'
    )
    s = supergraph_of(a=sdl, b=sdl.replace("type Query { p: P }", "type Query { q: Int }"))
    assert '@join__type(graph: A, key: "id")' in s.type_directives("P")


def test_federation_plumbing_is_not_part_of_the_supergraph(supergraph_of, fed2):
    s = supergraph_of(
        a=fed2 + "scalar _Any scalar FieldSet type _Service { sdl: String }"
        " union _Entity = P"
        " type Query { _service: _Service! _entities(representations: [_Any!]!): [_Entity]! a: P }"
        ' type P @key(fields: "id") { id: ID! }'
    )
    assert s.field_names("Query") == ["a"]
    assert not s.has_type("_Service") and not s.has_type("_Any")


def test_fed1_subgraphs_compose_with_implicit_shareable_and_key_externals(supergraph_of):
    s = supergraph_of(
        accounts='extend type Query { me: User } type User @key(fields: "id") { id: ID!'
        " name: String } type Address { street: String }",
        reviews='type Review { body: String author: User @provides(fields: "name") }'
        ' extend type User @key(fields: "id") { id: ID! @external name: String @external'
        " reviews: [Review] } type Address { street: String }"
        " extend type Query { top: [Review] }",
    )
    assert s.type_directives("User") == [
        '@join__type(graph: ACCOUNTS, key: "id")',
        '@join__type(graph: REVIEWS, key: "id")',
    ]
    assert s.field_directives("User.id") == []
    assert s.field_directives("User.name") == [
        "@join__field(graph: ACCOUNTS)",
        "@join__field(graph: REVIEWS, external: true)",
    ]
    assert s.field_directives("Address.street") == []


def test_graph_enum_names_are_upper_cased_and_sanitized(supergraph_of, fed2):
    s = supergraph_of(**{"order-service": fed2 + "type Query { a: Int }"})
    assert 'ORDER_SERVICE @join__graph(name: "order-service"' in s.sdl


def test_descriptions_are_kept(composed, fed2):
    s, result = composed(a=fed2 + '"Orders root" type Query { "An order" a: Int }')
    assert '"""An order"""' in s.sdl
    assert "An order" in result.api_schema_sdl


def test_deprecated_is_kept_in_the_api_schema(composed, fed2):
    _, result = composed(a=fed2 + 'type Query { a: Int @deprecated(reason: "use b") b: Int }')
    assert '@deprecated(reason: "use b")' in result.api_schema_sdl
