"""The merged schema before printing: each element with the join metadata the router needs.

Composition's model of a supergraph, printed as SDL by ``printing``; the router reads that
SDL into its own lookup tables (``federation.router.supergraph.Supergraph``).
"""

from __future__ import annotations

from dataclasses import dataclass

from federation.composition.subgraph import AppliedDirective, ComposedDirective, ExecutableDirective
from federation.composition.type_references import TypeReference


@dataclass(frozen=True)
class JoinField:
    """One ``@join__field``; ``graph`` None is the bare form used for @interfaceObject fields."""

    graph: str | None
    requires: str | None = None
    provides: str | None = None
    type: str | None = None
    external: bool = False
    override: str | None = None
    used_overridden: bool = False
    override_label: str | None = None


@dataclass(frozen=True)
class JoinType:
    graph: str
    key: str | None = None
    extension: bool = False
    resolvable: bool = True
    is_interface_object: bool = False


@dataclass(frozen=True)
class MergedArgument:
    name: str
    type: TypeReference
    default: str | None = None
    directives: tuple[AppliedDirective, ...] = ()
    description: str | None = None


@dataclass(frozen=True)
class MergedField:
    name: str
    type: TypeReference
    arguments: tuple[MergedArgument, ...] = ()
    join_fields: tuple[JoinField, ...] = ()
    directives: tuple[AppliedDirective, ...] = ()
    description: str | None = None
    default: str | None = None


@dataclass(frozen=True)
class MergedEnumValue:
    name: str
    graphs: tuple[str, ...]
    directives: tuple[AppliedDirective, ...] = ()
    description: str | None = None


@dataclass(frozen=True)
class MergedType:
    name: str
    kind: str
    join_types: tuple[JoinType, ...]
    description: str | None = None
    directives: tuple[AppliedDirective, ...] = ()
    interfaces: tuple[str, ...] = ()
    join_implements: tuple[tuple[str, str], ...] = ()
    fields: tuple[MergedField, ...] = ()
    members: tuple[str, ...] = ()
    join_union_members: tuple[tuple[str, str], ...] = ()
    values: tuple[MergedEnumValue, ...] = ()

    def field(self, name: str) -> MergedField | None:
        return next((candidate for candidate in self.fields if candidate.name == name), None)


@dataclass(frozen=True)
class Graph:
    """A subgraph as the supergraph's ``join__Graph`` enum names it."""

    enum_value: str
    name: str
    url: str


@dataclass(frozen=True)
class MergedSupergraph:
    """Every merged type of the subgraphs, with the join metadata of each element."""

    graphs: tuple[Graph, ...]
    types: tuple[MergedType, ...]
    root_types: tuple[str, ...]
    join_version: str
    composed_directives: tuple[ComposedDirective, ...] = ()
    executable_directives: tuple[ExecutableDirective, ...] = ()
    directive_order: tuple[str, ...] = ()

    def type(self, name: str) -> MergedType | None:
        return next((candidate for candidate in self.types if candidate.name == name), None)
