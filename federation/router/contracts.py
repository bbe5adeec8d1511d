"""Contracts: an API schema filtered by ``@tag``, for one audience, as GraphOS contracts do.

A contract names tags to include and tags to exclude. From the supergraph's API schema:

- a type, field, argument, enum value or input field tagged with an excluded tag is removed;
  a tag on an object or interface type counts as a tag on each of its fields;
- with include tags, an object or interface field is kept only when it (or its type) carries
  an included tag, and a type keeps only such fields; arguments, input fields, enum values,
  enums, scalars and input types are removed by exclusion only;
- what is left consistent: a field whose type is removed is removed, so is a field whose
  required argument is removed, and an input type whose required field is removed; a type
  left without fields (a union without members, an enum without values) is removed; so is
  every type no operation can reach any more.

A contract that leaves no query field, or an interface whose implementations lost one of its
fields, cannot serve: ``ContractError`` says why, and a gateway refuses to start with it.
The result is a plain ``GraphQLSchema``: the router validates, introspects and coerces with
it, so an operation outside the contract fails validation as if the field did not exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from graphql import (
    DocumentNode,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    SchemaDefinitionNode,
    build_ast_schema,
    get_named_type,
    is_required_argument,
    is_required_input_field,
    validate_schema,
)
from graphql.language import DirectiveNode, StringValueNode

from federation.router.api_schema import api_document

if TYPE_CHECKING:
    from federation.router.supergraph import Supergraph


class ContractError(ValueError):
    """The tags leave a schema that cannot be served; the message says why."""


def contract_document(
    supergraph: Supergraph, include: Iterable[str] = (), exclude: Iterable[str] = ()
) -> DocumentNode:
    """The API schema document filtered by the tags (see the module's rules)."""
    included, excluded = frozenset(include), frozenset(exclude)
    api = supergraph.api_schema
    tags = _read_tags(supergraph)
    removed_types, removed = _initial(api, tags, included, excluded)
    _settle(api, removed_types, removed)
    removed_types |= _unreachable(api, removed_types, removed)
    if api.query_type is None or api.query_type.name in removed_types:
        raise ContractError("the contract leaves no Query field")
    return _filtered(api_document(supergraph), removed_types, removed)


def build_contract_schema(
    supergraph: Supergraph, include: Iterable[str] = (), exclude: Iterable[str] = ()
) -> GraphQLSchema:
    """The contract's API schema; raises ``ContractError`` when it cannot be served."""
    schema = build_ast_schema(contract_document(supergraph, include, exclude))
    errors = validate_schema(schema)
    if errors:
        raise ContractError("; ".join(error.message for error in errors))
    return schema


# -- tags ---------------------------------------------------------------------------------------


def _tag_directive_names(supergraph: Supergraph) -> frozenset[str]:
    names = {link.prefix[:-2] for link in supergraph.links if link.name == "tag"}
    return frozenset(names or {"tag"})


def _tag_names(node: Any, directive_names: frozenset[str]) -> frozenset[str]:
    found = set()
    for directive in getattr(node, "directives", None) or ():
        assert isinstance(directive, DirectiveNode)
        if directive.name.value not in directive_names:
            continue
        for argument in directive.arguments or ():
            if argument.name.value == "name" and isinstance(argument.value, StringValueNode):
                found.add(argument.value.value)
    return frozenset(found)


def _read_tags(supergraph: Supergraph) -> dict[str, frozenset[str]]:
    """Tags by coordinate: ``Type``, ``Type.field``, ``Type.field(arg:)``, ``Enum.VALUE``."""
    names = _tag_directive_names(supergraph)
    tags: dict[str, frozenset[str]] = {}

    def note(coordinate: str, node: Any) -> None:
        found = _tag_names(node, names)
        if found:
            tags[coordinate] = tags.get(coordinate, frozenset()) | found

    for definition in supergraph.document.definitions:
        name = getattr(getattr(definition, "name", None), "value", None)
        if name is None or isinstance(definition, SchemaDefinitionNode):
            continue
        note(name, definition)
        for member in getattr(definition, "fields", None) or ():
            coordinate = f"{name}.{member.name.value}"
            note(coordinate, member)
            for argument in getattr(member, "arguments", None) or ():
                note(f"{coordinate}({argument.name.value}:)", argument)
        for value in getattr(definition, "values", None) or ():
            note(f"{name}.{value.name.value}", value)
    return tags


# -- what is removed ----------------------------------------------------------------------------


def _user_types(api: GraphQLSchema) -> Iterable[tuple[str, GraphQLNamedType]]:
    return ((n, t) for n, t in api.type_map.items() if not n.startswith("__"))


def _initial(
    api: GraphQLSchema,
    tags: dict[str, frozenset[str]],
    included: frozenset[str],
    excluded: frozenset[str],
) -> tuple[set[str], set[str]]:
    """What the tags remove by themselves: types, and member coordinates."""
    removed_types: set[str] = set()
    removed: set[str] = set()
    nothing: frozenset[str] = frozenset()
    for name, named in _user_types(api):
        own = tags.get(name, nothing)
        if own & excluded:
            removed_types.add(name)
            continue
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in named.fields.items():
                coordinate = f"{name}.{field_name}"
                field_tags = tags.get(coordinate, nothing) | own
                if field_tags & excluded or (included and not field_tags & included):
                    removed.add(coordinate)
                for argument in field.args:
                    if tags.get(f"{coordinate}({argument}:)", nothing) & excluded:
                        removed.add(f"{coordinate}({argument}:)")
        elif isinstance(named, GraphQLEnumType):
            removed.update(
                f"{name}.{value}"
                for value in named.values
                if tags.get(f"{name}.{value}", nothing) & excluded
            )
        elif isinstance(named, GraphQLInputObjectType):
            removed.update(
                f"{name}.{field}"
                for field in named.fields
                if tags.get(f"{name}.{field}", nothing) & excluded
            )
    return removed_types, removed


def _settle(api: GraphQLSchema, removed_types: set[str], removed: set[str]) -> None:
    """Remove what the removals leave dangling, until nothing more changes."""
    changed = True
    while changed:
        changed = False
        for name, named in _user_types(api):
            if name in removed_types:
                continue
            if _dangling(name, named, removed_types, removed):
                removed_types.add(name)
                changed = True
            elif _prune_members(name, named, removed_types, removed):
                changed = True


def _prune_members(
    name: str, named: GraphQLNamedType, removed_types: set[str], removed: set[str]
) -> bool:
    """Remove the members of a kept type that now point at removed things."""
    before = len(removed)
    if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
        for field_name, field in named.fields.items():
            coordinate = f"{name}.{field_name}"
            if coordinate in removed:
                continue
            if get_named_type(field.type).name in removed_types:
                removed.add(coordinate)
                continue
            for argument_name, argument in field.args.items():
                argument_coordinate = f"{coordinate}({argument_name}:)"
                gone = argument_coordinate in removed
                if not gone and get_named_type(argument.type).name in removed_types:
                    removed.add(argument_coordinate)
                    gone = True
                if gone and is_required_argument(argument):
                    removed.add(coordinate)  # it could never be called
                    break
    elif isinstance(named, GraphQLInputObjectType):
        for field_name, input_field in named.fields.items():
            coordinate = f"{name}.{field_name}"
            if coordinate not in removed and get_named_type(input_field.type).name in removed_types:
                removed.add(coordinate)
    return len(removed) != before


def _dangling(
    name: str, named: GraphQLNamedType, removed_types: set[str], removed: set[str]
) -> bool:
    """Whether a type has nothing left (or lost a required input field)."""
    if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
        return all(f"{name}.{field}" in removed for field in named.fields)
    if isinstance(named, GraphQLUnionType):
        return all(member.name in removed_types for member in named.types)
    if isinstance(named, GraphQLEnumType):
        return all(f"{name}.{value}" in removed for value in named.values)
    if isinstance(named, GraphQLInputObjectType):
        fields = named.fields.items()
        return all(f"{name}.{field}" in removed for field, _ in fields) or any(
            f"{name}.{field}" in removed and is_required_input_field(input_field)
            for field, input_field in fields
        )
    return False


def _unreachable(api: GraphQLSchema, removed_types: set[str], removed: set[str]) -> set[str]:
    """Kept types that no operation reaches from the root types any more."""
    roots = [t for t in (api.query_type, api.mutation_type, api.subscription_type) if t]
    pending = [t.name for t in roots if t.name not in removed_types]
    reached: set[str] = set()
    while pending:
        name = pending.pop()
        if name in reached or name in removed_types:
            continue
        reached.add(name)
        named = api.type_map[name]
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in named.fields.items():
                coordinate = f"{name}.{field_name}"
                if coordinate in removed:
                    continue
                pending.append(get_named_type(field.type).name)
                pending.extend(
                    get_named_type(argument.type).name
                    for argument_name, argument in field.args.items()
                    if f"{coordinate}({argument_name}:)" not in removed
                )
            pending.extend(i.name for i in named.interfaces)
            if isinstance(named, GraphQLInterfaceType):
                pending.extend(t.name for t in api.get_possible_types(named))
        elif isinstance(named, GraphQLUnionType):
            pending.extend(member.name for member in named.types)
        elif isinstance(named, GraphQLInputObjectType):
            pending.extend(
                get_named_type(input_field.type).name
                for field_name, input_field in named.fields.items()
                if f"{name}.{field_name}" not in removed
            )
    return {name for name, _ in _user_types(api) if name not in reached} - removed_types


# -- the filtered document ----------------------------------------------------------------------


def _filtered(document: DocumentNode, removed_types: set[str], removed: set[str]) -> DocumentNode:
    definitions = []
    for definition in document.definitions:
        if isinstance(definition, SchemaDefinitionNode):
            operations = tuple(
                operation
                for operation in definition.operation_types
                if operation.type.name.value not in removed_types
            )
            definitions.append(replace(definition, operation_types=operations))
            continue
        name = getattr(getattr(definition, "name", None), "value", None)
        if name is None or "directive" in definition.kind:
            definitions.append(definition)
            continue
        if name in removed_types:
            continue
        definitions.append(_filtered_type(definition, name, removed_types, removed))
    return DocumentNode(definitions=tuple(definitions))


def _filtered_type(definition: Any, name: str, removed_types: set[str], removed: set[str]) -> Any:
    """The definition (graphql-core's nodes are frozen dataclasses) without what is removed."""
    changes: dict[str, tuple[Any, ...]] = {}
    if getattr(definition, "fields", None):
        fields = []
        for field in definition.fields:
            coordinate = f"{name}.{field.name.value}"
            if coordinate in removed:
                continue
            if getattr(field, "arguments", None):
                arguments = tuple(
                    argument
                    for argument in field.arguments
                    if f"{coordinate}({argument.name.value}:)" not in removed
                )
                field = replace(field, arguments=arguments)
            fields.append(field)
        changes["fields"] = tuple(fields)
    if getattr(definition, "values", None):
        changes["values"] = tuple(
            v for v in definition.values if f"{name}.{v.name.value}" not in removed
        )
    if getattr(definition, "types", None):
        changes["types"] = tuple(t for t in definition.types if t.name.value not in removed_types)
    if getattr(definition, "interfaces", None):
        changes["interfaces"] = tuple(
            i for i in definition.interfaces if i.name.value not in removed_types
        )
    return replace(definition, **changes) if changes else definition
