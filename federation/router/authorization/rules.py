"""The access rules a supergraph declares: ``@authenticated``, ``@requiresScopes``, ``@policy``.

Read once per supergraph into requirements per type and per field, with the two derived
requirements abstract types need (Apollo Router's semantics): a field of an interface holds
what every implementation's field requires, and reading fields of an abstract type needs what
every possible object type requires. A requirement is a conjunction of rules; each
``@requiresScopes`` and ``@policy`` rule is an OR of ANDs (``[["a", "b"], ["c"]]`` is a and b,
or c).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from graphql import (
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    get_named_type,
)
from graphql.language import DirectiveNode
from graphql.utilities import value_from_ast_untyped

if TYPE_CHECKING:
    from federation.router.supergraph import Supergraph

AUTHENTICATED, SCOPES, POLICIES = "authenticated", "requiresScopes", "policy"
SPECS = frozenset({AUTHENTICATED, SCOPES, POLICIES})
"""The access-control specs the router enforces, by their ``@link`` names."""

_ARGUMENTS = {SCOPES: "scopes", POLICIES: "policies"}


@dataclass(frozen=True, slots=True)
class Rule:
    """One directive's demand: authentication, or one of ``alternatives`` held entirely."""

    kind: str
    alternatives: tuple[frozenset[str], ...] = ()

    def holds(self, grant: Grant) -> bool:
        if self.kind == AUTHENTICATED:
            return grant.authenticated
        held = grant.scopes if self.kind == SCOPES else grant.policies
        # No alternative at all demands nothing, as Apollo Router reads an empty list.
        return not self.alternatives or any(needed <= held for needed in self.alternatives)


Requirement = tuple[Rule, ...]
"""Rules that must all hold; the empty tuple is no requirement."""


@dataclass(frozen=True, slots=True)
class Grant:
    """What one caller holds, reduced to what the rules of one operation ask about."""

    authenticated: bool
    scopes: frozenset[str]
    policies: frozenset[str]


def satisfied(requirement: Requirement, grant: Grant) -> bool:
    return all(rule.holds(grant) for rule in requirement)


def conjunction(*requirements: Requirement) -> Requirement:
    """All of ``requirements``, each distinct rule once."""
    return tuple(dict.fromkeys(rule for requirement in requirements for rule in requirement))


@dataclass(frozen=True)
class AccessRules:
    """Requirements by type name and by ``(type, field)``, over the API schema's shapes."""

    schema: GraphQLSchema
    types: dict[str, Requirement]
    fields: dict[tuple[str, str], Requirement]

    @property
    def empty(self) -> bool:
        return not self.types and not self.fields

    def policy_names(self) -> frozenset[str]:
        """Every ``@policy`` name the rules use: what the embedding app must decide."""
        return frozenset(
            name
            for requirement in (*self.types.values(), *self.fields.values())
            for rule in requirement
            if rule.kind == POLICIES
            for alternative in rule.alternatives
            for name in alternative
        )

    def type_requirement(self, type_name: str) -> Requirement:
        return self.types.get(type_name, ())

    def field_requirement(self, parent: str, field: str) -> Requirement:
        """What selecting ``parent.field`` needs; on an interface, what all its
        implementations' fields need too (any of them may answer)."""
        own = self.fields.get((parent, field), ())
        parent_type = self.schema.type_map.get(parent)
        if not isinstance(parent_type, GraphQLInterfaceType):
            return own
        implementations = self.schema.get_implementations(parent_type).objects
        return conjunction(own, *(self.fields.get((o.name, field), ()) for o in implementations))

    def reading_requirement(self, type_name: str) -> Requirement:
        """What reading fields of a value of ``type_name`` needs: for an abstract type, what
        every object type it may turn out to be needs."""
        own = self.types.get(type_name, ())
        named = self.schema.type_map.get(type_name)
        if not isinstance(named, GraphQLInterfaceType | GraphQLUnionType):
            return own
        possible = self.schema.get_possible_types(named)
        return conjunction(own, *(self.types.get(o.name, ()) for o in possible))

    def return_type(self, parent: str, field: str) -> str | None:
        parent_type = self.schema.type_map.get(parent)
        if not isinstance(parent_type, GraphQLObjectType | GraphQLInterfaceType):
            return None
        definition = parent_type.fields.get(field)
        return None if definition is None else get_named_type(definition.type).name

    def is_list(self, parent: str, field: str) -> bool:
        parent_type: Any = self.schema.type_map[parent]
        field_type: Any = parent_type.fields[field].type
        while isinstance(field_type, GraphQLList | GraphQLNonNull):
            if isinstance(field_type, GraphQLList):
                return True
            field_type = field_type.of_type
        return False

    def is_abstract(self, type_name: str) -> bool:
        return isinstance(
            self.schema.type_map.get(type_name), GraphQLInterfaceType | GraphQLUnionType
        )


def read_rules(
    document_definitions: Iterable[Any], directive_names: dict[str, str], schema: GraphQLSchema
) -> AccessRules:
    """The rules applied in a supergraph document; ``directive_names`` maps each name the
    supergraph gives an access directive (its default or its ``@link`` alias) to the spec."""
    types: dict[str, Requirement] = {}
    fields: dict[tuple[str, str], Requirement] = {}
    for definition in document_definitions:
        name = getattr(getattr(definition, "name", None), "value", None)
        if name is None:
            continue
        found = _rules(getattr(definition, "directives", None), directive_names)
        if found:
            types[name] = conjunction(types.get(name, ()), found)
        for field_node in getattr(definition, "fields", None) or ():
            found = _rules(field_node.directives, directive_names)
            if found:
                key = (name, field_node.name.value)
                fields[key] = conjunction(fields.get(key, ()), found)
    return AccessRules(schema, types, fields)


def _rules(
    directives: Iterable[DirectiveNode] | None, directive_names: dict[str, str]
) -> Requirement:
    rules: list[Rule] = []
    for directive in directives or ():
        spec = directive_names.get(directive.name.value)
        if spec is None:
            continue
        if spec == AUTHENTICATED:
            rules.append(Rule(AUTHENTICATED))
            continue
        value: Any = None
        for argument in directive.arguments or ():
            if argument.name.value == _ARGUMENTS[spec]:
                value = value_from_ast_untyped(argument.value)
        rules.append(Rule(spec, _alternatives(value)))
    return tuple(dict.fromkeys(rules))


def _alternatives(value: Any) -> tuple[frozenset[str], ...]:
    """``[["a", "b"], ["c"]]`` as alternatives; a bare string list is one alternative."""
    if not isinstance(value, list):
        return ()
    if all(isinstance(item, str) for item in value):
        return (frozenset(value),) if value else ()
    return tuple(
        frozenset(str(item) for item in inner) for inner in value if isinstance(inner, list)
    )


def rules_of(supergraph: Supergraph) -> AccessRules:
    """The supergraph's access rules over its API schema.

    Each spec's directives are found under the name its ``@link`` gives them (an ``as:``
    alias or an ``import``), and under their default names as well, so a supergraph that
    applies them without linking the spec is not served open.
    """
    names = {spec: spec for spec in SPECS}
    for link in supergraph.links:
        if link.name in SPECS:
            names[link.prefix[:-2]] = link.name
            for imported in link.imports:  # each spec has one directive, named as the spec
                names[imported] = link.name
    return read_rules(supergraph.document.definitions, names, supergraph.api_schema)
