"""Loading an Apollo Federation v2 supergraph SDL (link v1, join v0.1 to v0.5).

The supergraph is read once into plain lookup tables: which subgraph defines which type,
with which keys, which subgraph resolves which field (and under which @requires/@provides/
@override), which types implement which interfaces in which subgraph. The planner only
consults these tables; nothing here depends on an operation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLSchema,
    SelectionSetNode,
    build_ast_schema,
    parse,
)
from graphql.language import (
    DirectiveNode,
    EnumTypeDefinitionNode,
    InterfaceTypeDefinitionNode,
    InterfaceTypeExtensionNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    SchemaDefinitionNode,
    UnionTypeDefinitionNode,
    UnionTypeExtensionNode,
)
from graphql.utilities import value_from_ast_untyped

from federation.router.errors import SupergraphError

#: Specs a supergraph may link ``for: SECURITY`` or ``for: EXECUTION``: the router honours
#: them (join, @inaccessible through the API schema, cost through demand control, access
#: control through ``federation.router.authorization``) or they carry no such semantics.
#: @context is not enforced here yet: linked for it, a supergraph stops the load. Linked
#: without a purpose the others stay metadata (see ``Supergraph.policies``); the
#: access-control directives are enforced however they are linked.
ENFORCED_SPECS = frozenset(
    {
        "link",
        "core",
        "join",
        "inaccessible",
        "tag",
        "cost",
        "authenticated",
        "requiresScopes",
        "policy",
    }
)

_SPEC_URL = re.compile(r"^https?://[^/]+/(?P<name>[A-Za-z_][A-Za-z0-9_]*)/v(?P<version>\d+\.\d+)")


@dataclass(frozen=True)
class Graph:
    """One subgraph as the supergraph names it: enum value, declared name and URL."""

    enum_value: str
    name: str
    url: str


@dataclass(frozen=True)
class Key:
    """One ``@key`` of a type in one subgraph."""

    fields: str
    selection: SelectionSetNode
    resolvable: bool


@dataclass(frozen=True)
class TypeInGraph:
    """How one subgraph defines a type (``@join__type``)."""

    graph: str
    keys: tuple[Key, ...]
    extension: bool
    is_interface_object: bool


@dataclass(frozen=True)
class FieldInGraph:
    """How one subgraph defines a field (``@join__field``)."""

    graph: str
    external: bool = False
    requires: SelectionSetNode | None = None
    provides: SelectionSetNode | None = None
    type: str | None = None
    override: str | None = None
    override_label: str | None = None
    used_overridden: bool = False


@dataclass(frozen=True)
class FieldMeta:
    """A field of the supergraph and the subgraphs that define it.

    ``annotated`` is false when the field carries no ``@join__field``: it then exists in every
    subgraph that defines its parent type. ``via_interface_object`` is true for an empty
    ``@join__field``: the field reaches the type only through an ``@interfaceObject``.
    """

    parent: str
    name: str
    graphs: dict[str, FieldInGraph]
    annotated: bool
    via_interface_object: bool


@dataclass(frozen=True)
class LinkedSpec:
    """One ``@link`` of the supergraph."""

    url: str
    name: str
    version: str
    prefix: str
    purpose: str | None
    imports: tuple[str, ...]


def parse_field_set(text: str) -> SelectionSetNode:
    """Parse a ``FieldSet`` scalar (``"id owner { id }"``) into a selection set."""
    try:
        document = parse("{" + text + "}", no_location=True)
    except Exception as error:
        raise SupergraphError(f"invalid field set {text!r}: {error}") from error
    operation = document.definitions[0]
    return operation.selection_set  # type: ignore[attr-defined]


def _arguments(directive: DirectiveNode) -> dict[str, Any]:
    return {arg.name.value: value_from_ast_untyped(arg.value) for arg in directive.arguments or ()}


@dataclass
class Supergraph:
    """The parsed supergraph: the lookup tables the planner and executor use."""

    sdl: str
    document: DocumentNode
    links: tuple[LinkedSpec, ...]
    graphs: dict[str, Graph]
    types: dict[str, dict[str, TypeInGraph]]
    fields: dict[tuple[str, str], FieldMeta]
    implements: dict[str, dict[str, frozenset[str]]]
    union_members: dict[str, dict[str, frozenset[str]]]
    root_types: dict[str, str]

    @classmethod
    def from_sdl(cls, sdl: str) -> Supergraph:
        """Read a supergraph SDL; raises ``SupergraphError`` when it cannot be served."""
        try:
            document = parse(sdl, no_location=True)
        except Exception as error:
            raise SupergraphError(f"supergraph is not valid SDL: {error}") from error
        return _load(sdl, document)

    # -- schema views -------------------------------------------------------------------------

    @cached_property
    def schema(self) -> GraphQLSchema:
        """The full supergraph schema (join machinery included), for type lookups."""
        return build_ast_schema(self.document, assume_valid=True, assume_valid_sdl=True)

    @cached_property
    def api_schema(self) -> GraphQLSchema:
        """The schema clients see: no join/link machinery, no @inaccessible elements."""
        from federation.router.api_schema import build_api_schema

        return build_api_schema(self)

    # -- lookups ------------------------------------------------------------------------------

    @cached_property
    def policies(self) -> dict[str, tuple[tuple[str, dict[str, Any]], ...]]:
        """Access and cost metadata by coordinate (``Type`` or ``Type.field``).

        ``@authenticated``, ``@requiresScopes``, ``@policy``, ``@cost`` and ``@listSize`` as
        written; demand control reads the cost ones itself (``federation.router.cost``) and the
        router enforces the access ones (``federation.router.authorization``).
        """
        names = {"authenticated", "requiresScopes", "policy", "cost", "listSize"}
        for link in self.links:
            if link.name in names:
                names.add(link.prefix[:-2])
        result: dict[str, tuple[tuple[str, dict[str, Any]], ...]] = {}

        def record(coordinate: str, node: Any) -> None:
            found = tuple(
                (d.name.value, _arguments(d))
                for d in getattr(node, "directives", None) or ()
                if d.name.value in names
            )
            if found:
                result[coordinate] = result.get(coordinate, ()) + found

        for definition in self.document.definitions:
            name = getattr(getattr(definition, "name", None), "value", None)
            if name is None:
                continue
            record(name, definition)
            for field_node in getattr(definition, "fields", None) or ():
                record(f"{name}.{field_node.name.value}", field_node)
        return result

    def type_in_graph(self, type_name: str, graph: str) -> TypeInGraph | None:
        return self.types.get(type_name, {}).get(graph)

    def is_interface_object(self, type_name: str, graph: str) -> bool:
        info = self.type_in_graph(type_name, graph)
        return bool(info and info.is_interface_object)

    def graphs_of_type(self, type_name: str) -> Iterable[str]:
        return self.types.get(type_name, {}).keys()

    def possible_types_in_graph(self, abstract: str, graph: str) -> frozenset[str]:
        """Object types a subgraph may return for an abstract type."""
        members = self.union_members.get(graph, {}).get(abstract)
        if members is not None:
            return members
        result = set()
        for type_name, interfaces in self.implements.get(graph, {}).items():
            if abstract in interfaces and self._is_object(type_name):
                result.add(type_name)
        return frozenset(result)

    def _is_object(self, type_name: str) -> bool:
        return type_name in self._object_types

    @cached_property
    def _object_types(self) -> frozenset[str]:
        return frozenset(
            d.name.value
            for d in self.document.definitions
            if isinstance(d, ObjectTypeDefinitionNode | ObjectTypeExtensionNode)
        )

    def resolvable_keys(self, type_name: str, graph: str) -> tuple[Key, ...]:
        info = self.type_in_graph(type_name, graph)
        if info is None:
            return ()
        return tuple(key for key in info.keys if key.resolvable)


def _load(sdl: str, document: DocumentNode) -> Supergraph:
    links = _read_links(document)
    join = next((link for link in links if link.name == "join"), None)
    if join is None:
        raise SupergraphError("not a supergraph: no @link to the join specification")
    _refuse_unenforced_links(links)
    names = _JoinNames(join.prefix)
    field_sets = _FieldSets()
    graphs = _read_graphs(document, names)
    if not graphs:
        raise SupergraphError("supergraph declares no subgraphs (join__Graph)")
    joins = _read_type_joins(document, names, field_sets)
    types = _with_value_types(joins.types, graphs, links)
    implements = joins.implements or _implements_from_interfaces(document, types)
    members = _with_v01_union_members(document, joins.union_members, names, types, graphs)
    return Supergraph(
        sdl=sdl,
        document=document,
        links=links,
        graphs=graphs,
        types=types,
        fields=_read_fields(document, names, field_sets),
        implements=_frozen(implements),
        union_members=_frozen(members),
        root_types=_read_root_types(document),
    )


def _refuse_unenforced_links(links: tuple[LinkedSpec, ...]) -> None:
    """A spec linked for security or execution must be honoured, or the supergraph not served.

    Ignoring, say, ``@requiresScopes`` would serve protected fields to every caller.
    """
    for link in links:
        if link.purpose in ("EXECUTION", "SECURITY") and link.name not in ENFORCED_SPECS:
            raise SupergraphError(
                f"the supergraph links {link.url} for {link.purpose}, which this router does"
                " not enforce; refusing to serve it"
            )


@dataclass(frozen=True)
class _JoinNames:
    """The join directives' names under the supergraph's prefix (``join__`` by default)."""

    prefix: str

    @property
    def graph_enum(self) -> str:
        return self.prefix + "Graph"

    @property
    def graph(self) -> str:
        return self.prefix + "graph"

    @property
    def type(self) -> str:
        return self.prefix + "type"

    @property
    def field(self) -> str:
        return self.prefix + "field"

    @property
    def implements(self) -> str:
        return self.prefix + "implements"

    @property
    def union_member(self) -> str:
        return self.prefix + "unionMember"


class _FieldSets:
    """Parsed ``FieldSet`` strings; supergraphs repeat the same keys many times."""

    def __init__(self) -> None:
        self._parsed: dict[str, SelectionSetNode] = {}

    def __call__(self, text: str) -> SelectionSetNode:
        parsed = self._parsed.get(text)
        if parsed is None:
            parsed = self._parsed[text] = parse_field_set(text)
        return parsed


def _read_root_types(document: DocumentNode) -> dict[str, str]:
    root_types = {"query": "Query", "mutation": "Mutation", "subscription": "Subscription"}
    for definition in document.definitions:
        if isinstance(definition, SchemaDefinitionNode):
            for operation_type in definition.operation_types:
                root_types[operation_type.operation.value] = operation_type.type.name.value
    return root_types


def _read_graphs(document: DocumentNode, names: _JoinNames) -> dict[str, Graph]:
    """The ``join__Graph`` enum: one value per subgraph, with its name and URL."""
    graphs: dict[str, Graph] = {}
    for definition in document.definitions:
        if not (
            isinstance(definition, EnumTypeDefinitionNode)
            and definition.name.value == names.graph_enum
        ):
            continue
        for value in definition.values or ():
            for directive in value.directives or ():
                if directive.name.value == names.graph:
                    args = _arguments(directive)
                    enum_value = value.name.value
                    graphs[enum_value] = Graph(
                        enum_value, args.get("name", enum_value), args["url"]
                    )
    return graphs


@dataclass
class _TypeJoins:
    """What ``@join__type``, ``@join__implements`` and ``@join__unionMember`` say."""

    types: dict[str, dict[str, TypeInGraph]]
    implements: dict[str, dict[str, set[str]]]
    union_members: dict[str, dict[str, set[str]]]


def _read_type_joins(
    document: DocumentNode, names: _JoinNames, field_sets: _FieldSets
) -> _TypeJoins:
    joins = _TypeJoins({}, {}, {})
    for definition in document.definitions:
        name_node = getattr(definition, "name", None)
        if (
            name_node is None
            or isinstance(definition, SchemaDefinitionNode)
            or not hasattr(definition, "directives")
        ):
            continue
        type_name = name_node.value
        type_graphs = joins.types.setdefault(type_name, {})
        for directive in definition.directives or ():
            directive_name = directive.name.value
            if directive_name == names.type:
                args = _arguments(directive)
                graph = args["graph"]
                keys = list(type_graphs[graph].keys) if graph in type_graphs else []
                if args.get("key"):
                    key = args["key"]
                    keys.append(Key(key, field_sets(key), args.get("resolvable", True)))
                type_graphs[graph] = TypeInGraph(
                    graph=graph,
                    keys=tuple(keys),
                    extension=bool(args.get("extension", False)),
                    is_interface_object=bool(args.get("isInterfaceObject", False)),
                )
            elif directive_name == names.implements:
                args = _arguments(directive)
                by_type = joins.implements.setdefault(args["graph"], {})
                by_type.setdefault(type_name, set()).add(args["interface"])
            elif directive_name == names.union_member:
                args = _arguments(directive)
                by_union = joins.union_members.setdefault(args["graph"], {})
                by_union.setdefault(type_name, set()).add(args["member"])
    return joins


def _read_fields(
    document: DocumentNode, names: _JoinNames, field_sets: _FieldSets
) -> dict[tuple[str, str], FieldMeta]:
    fields: dict[tuple[str, str], FieldMeta] = {}
    for definition in document.definitions:
        if isinstance(
            definition,
            ObjectTypeDefinitionNode
            | ObjectTypeExtensionNode
            | InterfaceTypeDefinitionNode
            | InterfaceTypeExtensionNode,
        ):
            type_name = definition.name.value
            for field_node in definition.fields or ():
                fields[(type_name, field_node.name.value)] = _field_meta(
                    type_name, field_node, names.field, field_sets
                )
    return fields


def _with_value_types(
    types: dict[str, dict[str, TypeInGraph]],
    graphs: dict[str, Graph],
    links: tuple[LinkedSpec, ...],
) -> dict[str, dict[str, TypeInGraph]]:
    """Types without ``@join__type`` (join v0.1 value types) exist in every subgraph."""
    machinery = tuple(link.prefix for link in links)
    everywhere = {g: TypeInGraph(g, (), False, False) for g in graphs}
    return {
        name: dict(everywhere) if not in_graphs and not name.startswith(machinery) else in_graphs
        for name, in_graphs in types.items()
    }


def _implements_from_interfaces(
    document: DocumentNode, types: dict[str, dict[str, TypeInGraph]]
) -> dict[str, dict[str, set[str]]]:
    """join v0.1 has no ``@join__implements``: every subgraph of a type has its interfaces."""
    implements: dict[str, dict[str, set[str]]] = {}
    for definition in document.definitions:
        if isinstance(definition, ObjectTypeDefinitionNode | InterfaceTypeDefinitionNode):
            type_name = definition.name.value
            for graph in types.get(type_name, {}):
                for interface in definition.interfaces or ():
                    by_type = implements.setdefault(graph, {})
                    by_type.setdefault(type_name, set()).add(interface.name.value)
    return implements


def _with_v01_union_members(
    document: DocumentNode,
    members: dict[str, dict[str, set[str]]],
    names: _JoinNames,
    types: dict[str, dict[str, TypeInGraph]],
    graphs: dict[str, Graph],
) -> dict[str, dict[str, set[str]]]:
    """join v0.1/v0.2 have no ``@join__unionMember``: every member is in every graph."""
    for definition in document.definitions:
        if not isinstance(definition, UnionTypeDefinitionNode | UnionTypeExtensionNode):
            continue
        if any(d.name.value == names.union_member for d in definition.directives or ()):
            continue
        union = definition.name.value
        for graph in types.get(union) or graphs:
            by_union = members.setdefault(graph, {})
            by_union.setdefault(union, set()).update(t.name.value for t in definition.types or ())
    return members


def _frozen(table: dict[str, dict[str, set[str]]]) -> dict[str, dict[str, frozenset[str]]]:
    return {
        graph: {name: frozenset(v) for name, v in by_name.items()}
        for graph, by_name in table.items()
    }


def _field_meta(type_name: str, node: Any, d_field: str, field_set: Any) -> FieldMeta:
    graphs: dict[str, FieldInGraph] = {}
    annotated = False
    via_interface_object = False
    for directive in node.directives or ():
        if directive.name.value != d_field:
            continue
        annotated = True
        args = _arguments(directive)
        graph = args.get("graph")
        if graph is None:
            via_interface_object = True
            continue
        graphs[graph] = FieldInGraph(
            graph=graph,
            external=bool(args.get("external") or False),
            requires=field_set(args["requires"]) if args.get("requires") else None,
            provides=field_set(args["provides"]) if args.get("provides") else None,
            type=args.get("type"),
            override=args.get("override"),
            override_label=args.get("overrideLabel"),
            used_overridden=bool(args.get("usedOverridden") or False),
        )
    return FieldMeta(type_name, node.name.value, graphs, annotated, via_interface_object)


def _read_links(document: DocumentNode) -> tuple[LinkedSpec, ...]:
    links: list[LinkedSpec] = []
    for definition in document.definitions:
        if not isinstance(definition, SchemaDefinitionNode):
            continue
        for directive in definition.directives or ():
            if directive.name.value not in ("link", "core"):
                continue
            args = _arguments(directive)
            url = args.get("url") or args.get("feature") or ""
            match = _SPEC_URL.match(url)
            if not match:
                links.append(LinkedSpec(url, url, "", url + "__", args.get("for"), ()))
                continue
            name = match.group("name")
            alias = args.get("as") or name
            imports = []
            for item in args.get("import") or ():
                if isinstance(item, str):
                    imports.append(item.lstrip("@"))
                elif isinstance(item, dict):
                    imports.append(str(item.get("as") or item.get("name", "")).lstrip("@"))
            links.append(
                LinkedSpec(
                    url=url,
                    name=name,
                    version=match.group("version"),
                    prefix=alias + "__",
                    purpose=args.get("for"),
                    imports=tuple(imports),
                )
            )
    return tuple(links)
