"""Properties of the authorization filter over generated operations and grants.

The operations are generated from the guarded supergraph's API schema (hypothesis-graphql),
the grants are any subset of the scopes and policies its rules mention (and some they do
not), authenticated or not. The oracle reads the directives straight from the supergraph's
own AST, apart from the router's reading of them.
"""

from __future__ import annotations

from typing import Any

import hypothesis_graphql
import pytest
from graphql import (
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
    print_schema,
)
from graphql.utilities import value_from_ast_untyped
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from federation.composition import SubgraphSource, compose, load_sdl_from_module
from federation.router import Router, Supergraph
from federation.router.authorization import Grant, filter_operation
from federation.router.operation import Field, Fragment, Selection

MODULES = {
    "accounts": "tests.federation.subgraphs.guarded_accounts:schema",
    "reviews": "tests.federation.subgraphs.guarded_reviews:schema",
}
SCOPES = ["read:email", "read:reviews", "badges", "moderate", "admin", "unrelated"]
POLICIES = ["hr", "finance", "manager", "unrelated"]


@pytest.fixture(scope="module")
def router() -> Router:
    sources = [
        SubgraphSource(name, f"http://{name}.invalid/graphql", load_sdl_from_module(module))
        for name, module in MODULES.items()
    ]
    return Router(Supergraph.from_sdl(compose(sources).supergraph_sdl))


grants = st.builds(
    Grant,
    authenticated=st.booleans(),
    scopes=st.frozensets(st.sampled_from(SCOPES)),
    policies=st.frozensets(st.sampled_from(POLICIES)),
)


def _holds(directives: Any, grant: Grant) -> bool:
    """The oracle: every access directive on an AST node holds for ``grant``."""
    for directive in directives or ():
        name = directive.name.value
        if name == "authenticated" and not grant.authenticated:
            return False
        if name in ("requiresScopes", "policy"):
            held = grant.scopes if name == "requiresScopes" else grant.policies
            (argument,) = directive.arguments
            alternatives = value_from_ast_untyped(argument.value)
            if alternatives and not any(set(needed) <= held for needed in alternatives):
                return False
    return True


def _type_holds(schema: GraphQLSchema, name: str, grant: Grant) -> bool:
    named = schema.type_map[name]
    return _holds(getattr(named.ast_node, "directives", ()), grant)


def _field_holds(schema: GraphQLSchema, parent: str, name: str, grant: Grant) -> bool:
    parent_type = schema.type_map[parent]
    owners = [parent_type]
    if isinstance(parent_type, GraphQLInterfaceType):
        owners += schema.get_implementations(parent_type).objects
    for owner in owners:
        field = owner.fields.get(name)  # type: ignore[union-attr]
        if field is not None and not _holds(field.ast_node.directives, grant):
            return False
    return True


def _planned_fields(
    schema: GraphQLSchema, parent: str, selections: tuple[Selection, ...]
) -> list[tuple[str, Field]]:
    found: list[tuple[str, Field]] = []
    for selection in selections:
        if isinstance(selection, Fragment):
            found += _planned_fields(
                schema, selection.type_condition or parent, selection.selections
            )
            continue
        found.append((parent, selection))
        if selection.selections is not None:
            field_type = schema.type_map[parent].fields[selection.name].type  # type: ignore[union-attr]
            found += _planned_fields(schema, get_named_type(field_type).name, selection.selections)
    return found


def _paths(schema: GraphQLSchema, parent: str, selections: tuple[Selection, ...]) -> set[tuple]:
    paths: set[tuple] = set()

    def walk(parent: str, selections: tuple[Selection, ...], prefix: tuple) -> None:
        for selection in selections:
            if isinstance(selection, Fragment):
                condition = selection.type_condition or parent
                walk(condition, selection.selections, (*prefix, condition))
                continue
            path = (*prefix, selection.response_key)
            paths.add(path)
            if selection.selections is not None:
                field_type = schema.type_map[parent].fields[selection.name].type  # type: ignore[union-attr]
                walk(get_named_type(field_type).name, selection.selections, path)

    walk(parent, selections, ())
    return paths


def _queries(router: Router) -> Any:
    return hypothesis_graphql.queries(print_schema(router.schema))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), grant=grants)
def test_no_grant_keeps_a_field_or_fragment_whose_rules_it_does_not_meet(router, data, grant):
    schema = router.supergraph.schema
    query = data.draw(_queries(router))
    prepared = router.prepare(query)
    assert prepared.operation is not None
    filtered = filter_operation(prepared.operation, router.access_rules, grant)
    root = prepared.operation.root_type
    for parent, field in _planned_fields(schema, root, filtered.planned.selections):
        if field.name.startswith("__"):
            continue
        assert _field_holds(schema, parent, field.name, grant), (parent, field.name, grant)
        returned = schema.type_map[parent].fields[field.name].type  # type: ignore[union-attr]
        returned_name = get_named_type(returned).name
        assert _type_holds(schema, returned_name, grant), (parent, field.name, returned_name)
        if parent == root:
            assert _type_holds(schema, root, grant)
    for type_name in _fragment_conditions(filtered.planned.selections):
        assert _type_holds(schema, type_name, grant), (type_name, grant)
    assert bool(filtered.removed) == (filtered.planned.selections != prepared.operation.selections)


def _fragment_conditions(selections: tuple[Selection, ...]) -> list[str]:
    found: list[str] = []
    for selection in selections:
        if isinstance(selection, Fragment):
            if selection.type_condition:
                found.append(selection.type_condition)
            found += _fragment_conditions(selection.selections)
        elif selection.selections is not None:
            found += _fragment_conditions(selection.selections)
    return found


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), smaller=grants, more=grants)
def test_holding_more_never_removes_more(router, data, smaller, more):
    schema = router.supergraph.schema
    larger = Grant(
        smaller.authenticated or more.authenticated,
        smaller.scopes | more.scopes,
        smaller.policies | more.policies,
    )
    prepared = router.prepare(data.draw(_queries(router)))
    assert prepared.operation is not None
    root = prepared.operation.root_type
    kept = _paths(
        schema,
        root,
        filter_operation(prepared.operation, router.access_rules, smaller).planned.selections,
    )
    kept_with_more = _paths(
        schema,
        root,
        filter_operation(prepared.operation, router.access_rules, larger).planned.selections,
    )
    assert kept <= kept_with_more


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_caller_holding_every_rule_runs_the_operation_as_written(router, data):
    prepared = router.prepare(data.draw(_queries(router)))
    assert prepared.operation is not None
    everything = Grant(True, frozenset(SCOPES), frozenset(POLICIES))
    filtered = filter_operation(prepared.operation, router.access_rules, everything)
    assert filtered.planned.selections is prepared.operation.selections
    assert filtered.removed == ()
    if prepared.access is not None:
        assert prepared.access.grants_everything(
            prepared.access.grant(True, frozenset(SCOPES), frozenset(POLICIES))
        )


def test_the_rules_the_router_reads_are_the_ones_declared(router):
    assert router.access_rules.policy_names() == {"hr", "finance", "manager"}
    assert isinstance(router.schema.type_map["User"], GraphQLObjectType)
