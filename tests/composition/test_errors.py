"""Every class of composition error, with the message a subgraph team would read."""

from __future__ import annotations

import pytest

from federation.composition import CompositionError, SubgraphSource, compose


def test_sdl_that_does_not_parse_names_subgraph_and_line(errors_of, fed2):
    errors = errors_of(orders=fed2 + "type Query {\n  a: Int\n  b: \n}")
    assert errors == [
        "[orders] The SDL does not parse at line 5, column 1: Syntax Error: Expected Name,"
        " found '}'."
    ]


def test_incompatible_field_types(errors_of, fed2):
    errors = errors_of(
        a=fed2 + "type Query { n: Int @shareable }",
        b=fed2 + "type Query { n: String @shareable }",
    )
    assert errors == [
        'Type of field "Query.n" is incompatible across subgraphs: it has type "Int" in'
        ' subgraph "a" but type "String" in subgraph "b"'
    ]


def test_incompatible_argument_types(errors_of, fed2):
    errors = errors_of(
        a=fed2 + "type Query { n(x: Int): Int @shareable }",
        b=fed2 + "type Query { n(x: String): Int @shareable }",
    )
    assert errors == [
        'Type of argument "Query.n(x:)" is incompatible across subgraphs: it has type "Int" in'
        ' subgraph "a" but type "String" in subgraph "b"'
    ]


def test_non_shareable_field_resolved_in_two_subgraphs(errors_of, fed2):
    errors = errors_of(
        a=fed2 + 'type Query { p: P } type P @key(fields: "id") { id: ID! name: String }',
        b=fed2 + 'type P @key(fields: "id") { id: ID! name: String @shareable }',
    )
    assert errors == [
        'Non-shareable field "P.name" is resolved from multiple subgraphs: it is resolved from'
        ' subgraphs "a" and "b" and defined as non-shareable in subgraph "a"'
    ]


def test_non_shareable_root_field_in_all_subgraphs(errors_of, fed2):
    errors = errors_of(a=fed2 + "type Query { n: Int }", b=fed2 + "type Query { n: Int }")
    assert errors == [
        'Non-shareable field "Query.n" is resolved from multiple subgraphs: it is resolved from'
        ' subgraphs "a" and "b" and defined as non-shareable in all of them'
    ]


def test_key_on_a_field_that_does_not_exist(errors_of, fed2):
    errors = errors_of(a=fed2 + 'type Query { p: P } type P @key(fields: "sku") { id: ID! }')
    assert errors == [
        '[a] On type "P", for @key(fields: "sku"): Cannot query field "sku" on type "P" (the'
        " field should either be added to this subgraph or, if it should not be resolved by"
        " this subgraph, you need to add it to this subgraph with @external)"
    ]


def test_key_with_invalid_field_set_syntax(errors_of, fed2):
    errors = errors_of(a=fed2 + 'type Query { p: P } type P @key(fields: "id {") { id: ID! }')
    assert len(errors) == 1
    assert errors[0].startswith('[a] On type "P", for @key(fields: "id {"): invalid field set:')


def test_key_selecting_an_object_without_sub_selection(errors_of, fed2):
    errors = errors_of(
        a=fed2 + 'type Query { p: P } type P @key(fields: "pkg") { pkg: Pkg } type Pkg { id: ID }'
    )
    assert errors == [
        '[a] On type "P", for @key(fields: "pkg"): field "P.pkg" of type "Pkg" needs a'
        " selection of sub-fields"
    ]


def test_requires_on_a_field_that_does_not_exist(errors_of, fed2):
    errors = errors_of(
        a=fed2 + 'type Query { p: P } type P @key(fields: "id") { id: ID! w: Int }',
        b=fed2 + 'type P @key(fields: "id") { id: ID! s: Int @requires(fields: "weight") }',
    )
    assert errors == [
        '[b] On field "P.s", for @requires(fields: "weight"): Cannot query field "weight" on'
        ' type "P" (the field should either be added to this subgraph or, if it should not be'
        " resolved by this subgraph, you need to add it to this subgraph with @external)"
    ]


def test_requires_on_a_field_that_is_not_external(errors_of, fed2):
    errors = errors_of(
        a=fed2 + 'type Query { p: P } type P @key(fields: "id") { id: ID! w: Int s: Int'
        ' @requires(fields: "w") }'
    )
    assert errors == [
        '[a] On field "P.s", for @requires(fields: "w"): field "P.w" should not be part of a'
        " @requires since it is already provided by this subgraph (it is not marked @external)"
    ]


def test_provides_on_a_field_that_is_not_external(errors_of, fed2):
    errors = errors_of(
        a=fed2 + 'type Query { p: P @provides(fields: "n") } type P @key(fields: "id")'
        " { id: ID! n: Int }"
    )
    assert errors == [
        '[a] On field "Query.p", for @provides(fields: "n"): field "P.n" should not be part of'
        " a @provides since it is already provided by this subgraph (it is not marked @external)"
    ]


def test_provides_on_a_field_of_scalar_type(errors_of, fed2):
    errors = errors_of(a=fed2 + 'type Query { n: Int @provides(fields: "x") }')
    assert errors == [
        '[a] Invalid @provides directive on field "Query.n": field has type "Int" which is not'
        " a composite type"
    ]


def test_provides_on_a_field_that_does_not_exist(errors_of, fed2):
    errors = errors_of(
        a=fed2 + 'type Query { p: P @provides(fields: "nope") } type P @key(fields: "id")'
        " { id: ID! }"
    )
    assert errors == [
        '[a] On field "Query.p", for @provides(fields: "nope"): Cannot query field "nope" on'
        ' type "P" (the field should either be added to this subgraph or, if it should not be'
        " resolved by this subgraph, you need to add it to this subgraph with @external)"
    ]


def test_unused_external_field(errors_of, fed2):
    errors = errors_of(
        a=fed2 + 'type Query { p: P } type P @key(fields: "id") { id: ID! w: Int }',
        b=fed2 + 'type P @key(fields: "id") { id: ID! w: Int @external }',
    )
    assert errors == [
        '[b] Field "P.w" is marked @external but is not used in any federation directive'
        " (@key, @provides, @requires) or to satisfy an interface; the field declaration has"
        " no use and should be removed (or the field should not be @external)"
    ]


def test_field_external_everywhere(errors_of, fed2):
    errors = errors_of(
        a=fed2 + 'type Query { p: P @provides(fields: "w") } type P @key(fields: "id")'
        " { id: ID! w: Int @external }"
    )
    assert errors == [
        'Field "P.w" is marked @external on all the subgraphs in which it is listed (subgraph "a")'
    ]


def test_override_from_a_subgraph_that_does_not_exist(errors_of, fed2):
    errors = errors_of(
        a=fed2 + 'type Query { p: P } type P @key(fields: "id") { id: ID!'
        ' n: Int @override(from: "legacy") }'
    )
    assert errors == [
        '[a] Field "P.n" overrides subgraph "legacy", which is not one of the composed'
        ' subgraphs ("a")'
    ]


def test_override_of_itself(errors_of, fed2):
    errors = errors_of(
        a=fed2 + 'type Query { p: P } type P @key(fields: "id") { id: ID!'
        ' n: Int @override(from: "a") }'
    )
    assert errors == [
        '[a] Source and destination subgraphs "a" are the same for overridden field "P.n"'
    ]


def test_override_in_both_directions(errors_of, fed2):
    errors = errors_of(
        a=fed2 + 'type Query { p: P } type P @key(fields: "id") { id: ID!'
        ' n: Int @override(from: "b") }',
        b=fed2 + 'type P @key(fields: "id") { id: ID! n: Int @override(from: "a") }',
    )
    assert (
        'Field "P.n" on subgraph "b" is also marked with @override in subgraph "a":' in (errors[0])
    )


def test_enum_used_as_input_and_output_must_be_consistent(errors_of, fed2):
    errors = errors_of(
        a=fed2 + "type Query { a(e: E): E } enum E { ON OFF }",
        b=fed2 + "type Query { b: E } enum E { ON }",
    )
    assert errors == [
        'Enum type "E" is used as both input type (for example, as type of "Query.a(e:)") and'
        ' output type (for example, as type of "Query.a"), but value "OFF" is not defined in'
        ' all the subgraphs defining "E": "OFF" is defined in subgraph "a" but not in'
        ' subgraph "b"'
    ]


def test_input_enum_with_no_common_value(errors_of, fed2):
    errors = errors_of(
        a=fed2 + "type Query { a(e: E): Int } enum E { ON }",
        b=fed2 + "type Query { b(e: E): Int } enum E { OFF }",
    )
    assert errors[0].startswith(
        'None of the values of enum type "E" are defined consistently in all the subgraphs'
    )


def test_type_kind_conflict(errors_of, fed2):
    errors = errors_of(
        a=fed2 + "type Query { a: T } type T { x: Int }",
        b=fed2 + "type Query { b: T @shareable } interface T { x: Int }",
    )
    assert errors == [
        'Type "T" has mismatched kind: it is defined as Object Type in subgraph "a" but'
        ' Interface Type in subgraph "b"'
    ]


def test_root_type_named_query_that_is_not_the_query_root(errors_of, fed2):
    errors = errors_of(
        a=fed2 + "schema { query: RootQuery } type RootQuery { a: Int } type Query { b: Int }"
    )
    assert errors == [
        '[a] The schema has a type named "Query" but it is not set as the query root type'
        ' ("RootQuery" is instead): rename it or make it the root type'
    ]


def test_root_type_that_is_not_an_object(errors_of, fed2):
    errors = errors_of(a=fed2 + "schema { query: Q } interface Q { a: Int }")
    assert errors[0] == (
        '[a] The query root type "Q" must be an object type but is an interface type'
    )


def test_required_argument_missing_in_another_subgraph(errors_of, fed2):
    errors = errors_of(
        a=fed2 + "type Query { n(x: Int!): Int @shareable }",
        b=fed2 + "type Query { n: Int @shareable }",
    )
    assert errors == [
        'Argument "Query.n(x:)" is required in some subgraphs but does not appear in all'
        ' subgraphs: it is required in subgraph "a" but does not appear in subgraph "b"'
    ]


def test_required_input_field_missing_in_another_subgraph(errors_of, fed2):
    errors = errors_of(
        a=fed2 + "type Query { a(f: F): Int } input F { x: Int! }",
        b=fed2 + "type Query { b(f: F): Int } input F { y: Int }",
    )
    assert 'Input object field "F.x" is required in some subgraphs' in errors[0]


def test_interface_object_without_an_entity_interface(errors_of, fed2):
    errors = errors_of(
        a=fed2 + 'type Query { d: D } type D @key(fields: "id") @interfaceObject { id: ID! }'
    )
    assert errors == [
        '[a] Type "D" is declared with @interfaceObject but no subgraph defines an interface'
        ' "D" with a @key'
    ]


def test_inaccessible_type_referenced_by_an_accessible_field(errors_of, fed2):
    errors = errors_of(a=fed2 + "type Query { h: H a: Int } type H @inaccessible { x: Int }")
    assert errors == [
        'Type "H" is @inaccessible but is referenced by "Query.h", which is in the API schema'
    ]


def test_type_with_only_inaccessible_fields(errors_of, fed2):
    errors = errors_of(a=fed2 + "type Query { a: T } type T { x: Int @inaccessible }")
    assert errors == ['Type "T" is in the API schema but all of its fields are @inaccessible']


def test_field_unreachable_from_a_subgraph_without_a_key(errors_of, fed2):
    errors = errors_of(
        a=fed2 + "type Query { p: P } type P { id: ID! @shareable }",
        b=fed2 + "type Query { q: P @shareable } type P { id: ID! @shareable price: Int }",
    )
    assert errors == [
        'Field "P.price" cannot be resolved when "P" is reached from subgraph "a" (path:'
        ' Query.p): it is resolved only by subgraph "b", and no @key of "P" in those'
        ' subgraphs is resolvable from subgraph "a"'
    ]


def test_no_query_field_at_all(errors_of, fed2):
    errors = errors_of(a=fed2 + 'type P @key(fields: "id") { id: ID! }')
    assert errors == [
        "No queries found in any subgraph: a supergraph must have a query root type with at"
        " least one field"
    ]


def test_compose_directive_without_a_link(errors_of):
    sdl = (
        'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3",'
        ' import: ["@composeDirective"]) @composeDirective(name: "@x")\n'
        "directive @x on FIELD_DEFINITION type Query { a: Int }"
    )
    assert errors_of(a=sdl) == [
        '[a] Directive "@x" cannot be composed: @composeDirective needs it to be imported by a'
        " @link to a specification URL"
    ]


def test_duplicate_subgraph_names_and_empty_input() -> None:
    with pytest.raises(CompositionError) as raised:
        compose([SubgraphSource("a", "http://a", "type Query { a: Int }")] * 2)
    assert raised.value.errors == ('Subgraph name "a" is used by 2 subgraphs',)
    with pytest.raises(CompositionError) as raised:
        compose([])
    assert raised.value.errors == ("No subgraphs to compose",)


def test_errors_from_several_subgraphs_are_reported_together(errors_of, fed2):
    errors = errors_of(a=fed2 + "type Query {", b=fed2 + "type Query { a: }")
    assert [e.split("]")[0] for e in errors] == ["[a", "[b"]
