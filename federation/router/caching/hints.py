"""Cache hints (`@cacheControl`) and the cache policy of an operation, as Apollo Server
computes them.

A hint sits on a type (for every field returning it) or on a field; a field's own hint wins
over its type's. An answer may be cached for the smallest `maxAge` among the fields it
resolves, and is `PRIVATE` as soon as one of them is. A root field, and a field returning an
object, interface or union, that no hint gives a `maxAge` gets the default (0: not cacheable
unless hinted); a scalar field below the root inherits its parent's, and so does a field whose
hint (or whose type's) says `inheritMaxAge`.

The router computes the policy from the operation once, when it is prepared, not from each
answer: a field is counted whether or not the answer holds it (an empty list, a null parent,
a fragment on another type), which can only make the age shorter than Apollo Server's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    OperationDefinitionNode,
    get_named_type,
    is_composite_type,
    parse,
)
from graphql.language import DirectiveNode

from federation.router.operation import Field, Fragment, Selection

PUBLIC = "PUBLIC"
PRIVATE = "PRIVATE"
DIRECTIVE = "cacheControl"
ENTITIES_FIELD = "_entities"


@dataclass(frozen=True, slots=True)
class CacheHint:
    """One `@cacheControl`: `max_age` None and `scope` None mean "not said"."""

    max_age: int | None = None
    scope: str | None = None
    inherit_max_age: bool = False

    def replaced_by(self, other: CacheHint) -> CacheHint:
        """This hint with what ``other`` says instead (Apollo's ``replace``)."""
        return CacheHint(
            other.max_age if other.max_age is not None else self.max_age,
            other.scope if other.scope is not None else self.scope,
            self.inherit_max_age,
        )


NO_HINT = CacheHint()


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """How long an answer may be reused and by whom; ``max_age`` None: nothing limited it."""

    max_age: int | None = None
    scope: str = PUBLIC

    def restrict(self, max_age: int | None, scope: str | None) -> CachePolicy:
        if max_age is not None and (self.max_age is None or max_age < self.max_age):
            new_age = max_age
        else:
            new_age = self.max_age
        return CachePolicy(new_age, PRIVATE if scope == PRIVATE else self.scope)

    @property
    def cacheable(self) -> bool:
        return self.max_age is not None and self.max_age > 0

    @property
    def private(self) -> bool:
        return self.scope == PRIVATE


UNCACHEABLE = CachePolicy(0)


class CacheHints:
    """The hints of one schema: from its `@cacheControl` applications, with per-type
    overrides of `maxAge` (the operator's configuration wins over the schema's) and the
    default `maxAge` of root and composite fields without one."""

    def __init__(
        self,
        schema: GraphQLSchema,
        types: Mapping[str, CacheHint],
        fields: Mapping[tuple[str, str], CacheHint],
        *,
        default_max_age: int = 0,
        type_max_ages: Mapping[str, int] | None = None,
    ) -> None:
        self.schema = schema
        self.default_max_age = default_max_age
        merged = dict(types)
        for name, max_age in (type_max_ages or {}).items():
            merged[name] = CacheHint(max_age, merged.get(name, NO_HINT).scope)
        self.types = merged
        self.fields = dict(fields)

    @classmethod
    def from_document(
        cls,
        schema: GraphQLSchema,
        document: DocumentNode,
        *,
        directive: str = DIRECTIVE,
        default_max_age: int = 0,
        type_max_ages: Mapping[str, int] | None = None,
    ) -> CacheHints:
        """Read every ``@<directive>`` on types and fields of a (super)graph document."""
        types: dict[str, CacheHint] = {}
        fields: dict[tuple[str, str], CacheHint] = {}
        for definition in document.definitions:
            name_node = getattr(definition, "name", None)
            if name_node is None:
                continue
            name = name_node.value
            hint = _hint_of(getattr(definition, "directives", None), directive)
            if hint is not None:
                types.setdefault(name, hint)
            for field_node in getattr(definition, "fields", None) or ():
                hint = _hint_of(field_node.directives, directive)
                if hint is not None:
                    fields.setdefault((name, field_node.name.value), hint)
        return cls(
            schema,
            types,
            fields,
            default_max_age=default_max_age,
            type_max_ages=type_max_ages,
        )

    # -- policies -----------------------------------------------------------------------------

    def operation_policy(self, root_type: str, selections: Iterable[Selection]) -> CachePolicy:
        """The policy of a normalised operation (its root type and selections)."""
        root = self.schema.type_map.get(root_type)
        if not isinstance(root, GraphQLObjectType):
            return UNCACHEABLE
        return self._selections(CachePolicy(), root, tuple(selections), root=True)

    def fetch_policy(self, operation: str) -> CachePolicy:
        """The policy of an `_entities` fetch's answer: per entity type, its hint (or the
        default) restricted by the fields the fetch selects of it."""
        document = parse(operation, no_location=True)
        policy = CachePolicy()
        for definition in document.definitions:
            if not isinstance(definition, OperationDefinitionNode):
                continue
            for node in definition.selection_set.selections:
                if not isinstance(node, FieldNode) or node.name.value != ENTITIES_FIELD:
                    return UNCACHEABLE
                for fragment in node.selection_set.selections if node.selection_set else ():
                    if not isinstance(fragment, InlineFragmentNode) or not fragment.type_condition:
                        return UNCACHEABLE
                    entity = self.schema.type_map.get(fragment.type_condition.name.value)
                    if not isinstance(entity, GraphQLObjectType | GraphQLInterfaceType):
                        return UNCACHEABLE
                    own = self.types.get(entity.name, NO_HINT)
                    policy = policy.restrict(
                        own.max_age if own.max_age is not None else self.default_max_age,
                        own.scope,
                    )
                    policy = self._ast_selections(policy, entity, fragment.selection_set)
        return policy

    def _selections(
        self,
        policy: CachePolicy,
        parent: GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType,
        selections: tuple[Selection, ...],
        *,
        root: bool = False,
    ) -> CachePolicy:
        for selection in selections:
            if isinstance(selection, Fragment):
                target = parent
                if selection.type_condition:
                    named = self.schema.type_map.get(selection.type_condition)
                    if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
                        target = named
                policy = self._selections(policy, target, selection.selections, root=root)
                continue
            assert isinstance(selection, Field)
            policy = self._field(policy, parent, selection.name, root)
            if selection.selections:
                child = self._child_type(parent, selection.name)
                if child is not None:
                    policy = self._selections(policy, child, selection.selections)
        return policy

    def _ast_selections(self, policy: CachePolicy, parent, selection_set) -> CachePolicy:
        for node in selection_set.selections if selection_set else ():
            if isinstance(node, InlineFragmentNode):
                target = parent
                if node.type_condition is not None:
                    named = self.schema.type_map.get(node.type_condition.name.value)
                    if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
                        target = named
                policy = self._ast_selections(policy, target, node.selection_set)
            elif isinstance(node, FieldNode):
                policy = self._field(policy, parent, node.name.value, False)
                if node.selection_set is not None:
                    child = self._child_type(parent, node.name.value)
                    if child is not None:
                        policy = self._ast_selections(policy, child, node.selection_set)
        return policy

    def _child_type(self, parent, name: str):
        fields = getattr(parent, "fields", None)
        if not fields or name not in fields:
            return None
        named = get_named_type(fields[name].type)
        return named if is_composite_type(named) else None

    def _field(self, policy: CachePolicy, parent, name: str, root: bool) -> CachePolicy:
        """Apollo Server's ``willResolveField`` for one field, then ``restrict``."""
        if name.startswith("__"):
            return policy
        fields = getattr(parent, "fields", None)
        if not fields or name not in fields:
            return policy
        target = get_named_type(fields[name].type)
        composite = is_composite_type(target)
        hint = NO_HINT
        inherit = False
        if composite:
            hint = NO_HINT.replaced_by(self.types.get(target.name, NO_HINT))
            inherit = self.types.get(target.name, NO_HINT).inherit_max_age
        for owner in self._owners(parent):
            own = self.fields.get((owner, name), NO_HINT)
            field_hint = hint
            field_inherit = inherit
            if own.inherit_max_age and hint.max_age is None:
                field_inherit = True
                if own.scope is not None:
                    field_hint = CacheHint(hint.max_age, own.scope)
            else:
                field_hint = hint.replaced_by(own)
            max_age = field_hint.max_age
            if max_age is None and ((composite and not field_inherit) or root):
                max_age = self.default_max_age
            policy = policy.restrict(max_age, field_hint.scope)
        return policy

    def _owners(self, parent) -> tuple[str, ...]:
        """The type itself, and for an interface every object type implementing it: the
        field's hint at run time is the concrete type's."""
        if isinstance(parent, GraphQLInterfaceType):
            implementations = self.schema.get_implementations(parent).objects
            return (parent.name, *(o.name for o in implementations))
        return (parent.name,)


def _hint_of(directives: Iterable[DirectiveNode] | None, name: str) -> CacheHint | None:
    for directive in directives or ():
        if directive.name.value != name:
            continue
        arguments = {a.name.value: a.value for a in directive.arguments or ()}
        max_age_node = arguments.get("maxAge")
        scope_node = arguments.get("scope")
        inherit_node = arguments.get("inheritMaxAge")
        scope = getattr(scope_node, "value", None) if scope_node is not None else None
        scope = scope if scope in (PUBLIC, PRIVATE) else None
        if inherit_node is not None and getattr(inherit_node, "value", None) is True:
            return CacheHint(None, scope, True)
        max_age = None
        if max_age_node is not None and max_age_node.kind == "int_value":
            max_age = int(max_age_node.value)
        return CacheHint(max_age, scope)
    return None


def directive_name(links: Iterable[object]) -> str:
    """The name the supergraph gives `@cacheControl`: its import through a `@link` to a
    `cacheControl` specification (renamed or not), else the bare name."""
    for link in links:
        if getattr(link, "name", None) == DIRECTIVE:
            imports = getattr(link, "imports", ())
            if imports:
                return imports[0]
            return f"{getattr(link, 'prefix', DIRECTIVE + '__')}{DIRECTIVE}"
    return DIRECTIVE
