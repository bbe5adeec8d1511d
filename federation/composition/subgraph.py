"""One subgraph as composition sees it: federation directives already interpreted.

Reading turns SDL into these frozen records (federation v1 upgraded to v2 semantics,
renamed imports resolved, custom root types renamed), so merging never looks at
directive spellings again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from graphql import parse_value, value_from_ast_untyped

from federation.composition.field_sets import FieldSelection, parse_field_set
from federation.composition.type_references import TypeReference

ROOT_OPERATIONS = (("query", "Query"), ("mutation", "Mutation"), ("subscription", "Subscription"))


@dataclass(frozen=True)
class AppliedDirective:
    """A directive kept in the supergraph, under its supergraph name, arguments as printed."""

    name: str
    arguments: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        if not self.arguments:
            return f"@{self.name}"
        printed = ", ".join(f"{name}: {value}" for name, value in self.arguments)
        return f"@{self.name}({printed})"

    def value(self, name: str) -> object:
        """The argument's value as plain Python data (None when absent)."""
        for argument_name, printed in self.arguments:
            if argument_name == name:
                return value_from_ast_untyped(parse_value(printed))
        return None


@dataclass(frozen=True)
class Argument:
    name: str
    type: TypeReference
    default: str | None = None
    directives: tuple[AppliedDirective, ...] = ()
    description: str | None = None


@dataclass(frozen=True)
class Field:
    """A field (or input field) with its federation metadata in this subgraph."""

    name: str
    type: TypeReference
    arguments: tuple[Argument, ...] = ()
    description: str | None = None
    directives: tuple[AppliedDirective, ...] = ()
    default: str | None = None
    external: bool = False
    requires: str | None = None
    provides: str | None = None
    shareable: bool = False
    override_from: str | None = None
    override_label: str | None = None
    line: int = 0

    def argument(self, name: str) -> Argument | None:
        return next((argument for argument in self.arguments if argument.name == name), None)


@dataclass(frozen=True)
class Key:
    fields: str
    resolvable: bool = True
    extension: bool = False


@dataclass(frozen=True)
class EnumValue:
    name: str
    description: str | None = None
    directives: tuple[AppliedDirective, ...] = ()


@dataclass(frozen=True)
class TypeDefinition:
    """A named type; ``kind`` is the supergraph kind (an @interfaceObject is an INTERFACE)."""

    name: str
    kind: str
    description: str | None = None
    directives: tuple[AppliedDirective, ...] = ()
    fields: tuple[Field, ...] = ()
    interfaces: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    values: tuple[EnumValue, ...] = ()
    keys: tuple[Key, ...] = ()
    interface_object: bool = False
    line: int = 0

    def field(self, name: str) -> Field | None:
        return next((candidate for candidate in self.fields if candidate.name == name), None)

    @property
    def is_composite(self) -> bool:
        return self.kind in ("OBJECT", "INTERFACE", "UNION")


@dataclass(frozen=True)
class ComposedDirective:
    """A custom directive kept through ``@composeDirective``, with the link that defines it."""

    name: str
    url: str
    definition: str


@dataclass(frozen=True)
class ExecutableDirective:
    name: str
    locations: tuple[str, ...]
    arguments: str
    repeatable: bool

    def __str__(self) -> str:
        """The directive's definition as SDL."""
        repeatable = " repeatable" if self.repeatable else ""
        return f"directive @{self.name}{self.arguments}{repeatable} on " + " | ".join(
            self.locations
        )


@dataclass(frozen=True)
class Subgraph:
    name: str
    url: str
    federation_version: tuple[int, int] | None
    types: Mapping[str, TypeDefinition]
    root_types: tuple[str, ...] = ()
    composed_directives: tuple[ComposedDirective, ...] = ()
    executable_directives: tuple[ExecutableDirective, ...] = ()
    used_fields: frozenset[tuple[str, str]] = field(default=frozenset())

    @property
    def is_federation_1(self) -> bool:
        return self.federation_version is None

    def type(self, name: str) -> TypeDefinition | None:
        return self.types.get(name)

    def possible_types(self, name: str) -> tuple[str, ...]:
        """Object types that a value of abstract type ``name`` can be, in this subgraph."""
        definition = self.types.get(name)
        if definition is None:
            return ()
        if definition.kind == "UNION":
            return definition.members
        if definition.kind == "INTERFACE":
            return tuple(
                candidate.name
                for candidate in self.types.values()
                if candidate.kind == "OBJECT" and name in candidate.interfaces
            )
        return (name,)


def selected_coordinates(
    types: Mapping[str, TypeDefinition], type_name: str, selections: tuple[FieldSelection, ...]
) -> set[tuple[str, str]]:
    """Every (type, field) a field set touches, following sub-selections; unknowns skipped."""
    found: set[tuple[str, str]] = set()
    for selection in selections:
        owner = selection.type_condition or type_name
        definition = types.get(owner)
        if definition is None:
            continue
        found.add((owner, selection.name))
        selected = definition.field(selection.name)
        if selected is not None and selection.selections:
            found |= selected_coordinates(types, selected.type.named_type, selection.selections)
    return found


def field_set_coordinates(
    types: Mapping[str, TypeDefinition], type_name: str, text: str
) -> set[tuple[str, str]]:
    """Like ``selected_coordinates`` for field set text; an unparsable set touches nothing."""
    try:
        selections = parse_field_set(text)
    except ValueError:
        return set()
    return selected_coordinates(types, type_name, selections)
