"""Reading a subgraph's SDL into a ``Subgraph``.

This is where federation 1 subgraphs are upgraded to federation 2 meaning (every field
shareable, ``extend type`` no longer an extension, @external on key fields dropped) and
where the federation plumbing every subgraph exposes (``_service``, ``_entities``, ``_Any``,
``FieldSet``…) is removed, so merging only sees the subgraph's own schema.
"""

from __future__ import annotations

from collections import defaultdict

from graphql import GraphQLSyntaxError, parse, print_ast
from graphql.language import (
    DirectiveDefinitionNode,
    DirectiveNode,
    DocumentNode,
    EnumTypeDefinitionNode,
    EnumTypeExtensionNode,
    FieldDefinitionNode,
    InputObjectTypeDefinitionNode,
    InputObjectTypeExtensionNode,
    InputValueDefinitionNode,
    InterfaceTypeDefinitionNode,
    InterfaceTypeExtensionNode,
    ListTypeNode,
    NamedTypeNode,
    NonNullTypeNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    ScalarTypeDefinitionNode,
    ScalarTypeExtensionNode,
    SchemaDefinitionNode,
    SchemaExtensionNode,
    TypeDefinitionNode,
    TypeExtensionNode,
    TypeNode,
    UnionTypeDefinitionNode,
    UnionTypeExtensionNode,
)

from federation.composition.errors import CompositionError
from federation.composition.links import FederationNames, directive_arguments, federation_names
from federation.composition.sources import SubgraphSource
from federation.composition.subgraph import (
    ROOT_OPERATIONS,
    AppliedDirective,
    Argument,
    ComposedDirective,
    EnumValue,
    ExecutableDirective,
    Field,
    Key,
    Subgraph,
    TypeDefinition,
    field_set_coordinates,
)
from federation.composition.type_references import type_reference_from_ast

FEDERATION_TYPES = frozenset(
    {
        "_Service",
        "_Any",
        "_Entity",
        "_FieldSet",
        "FieldSet",
        "link__Import",
        "link__Purpose",
        "federation__FieldSet",
        "federation__Scope",
        "federation__Policy",
        "federation__ContextFieldValue",
        "requiresScopes__Scope",
        "policy__Policy",
    }
)
FEDERATION_QUERY_FIELDS = frozenset({"_service", "_entities"})
KEPT_FEDERATION_DIRECTIVES = frozenset(
    {"inaccessible", "tag", "authenticated", "requiresScopes", "policy", "cost", "listSize"}
)
BUILT_IN_KEPT_DIRECTIVES = frozenset({"deprecated", "specifiedBy"})
EXECUTABLE_LOCATIONS = frozenset(
    {
        "QUERY",
        "MUTATION",
        "SUBSCRIPTION",
        "FIELD",
        "FRAGMENT_DEFINITION",
        "FRAGMENT_SPREAD",
        "INLINE_FRAGMENT",
        "VARIABLE_DEFINITION",
    }
)
KIND_OF_NODE = {
    ObjectTypeDefinitionNode: "OBJECT",
    ObjectTypeExtensionNode: "OBJECT",
    InterfaceTypeDefinitionNode: "INTERFACE",
    InterfaceTypeExtensionNode: "INTERFACE",
    UnionTypeDefinitionNode: "UNION",
    UnionTypeExtensionNode: "UNION",
    EnumTypeDefinitionNode: "ENUM",
    EnumTypeExtensionNode: "ENUM",
    InputObjectTypeDefinitionNode: "INPUT_OBJECT",
    InputObjectTypeExtensionNode: "INPUT_OBJECT",
    ScalarTypeDefinitionNode: "SCALAR",
    ScalarTypeExtensionNode: "SCALAR",
}


def parse_subgraph_document(source: SubgraphSource) -> DocumentNode:
    """Parse the SDL, turning a syntax error into a message naming subgraph and line."""
    try:
        return parse(source.sdl)
    except GraphQLSyntaxError as error:
        where = ""
        if error.locations:
            location = error.locations[0]
            where = f" at line {location.line}, column {location.column}"
        raise CompositionError(
            [f"[{source.name}] The SDL does not parse{where}: {error.message}"]
        ) from None


def read_subgraph(source: SubgraphSource) -> Subgraph:
    """Interpret one subgraph; raises CompositionError listing every problem found."""
    document = parse_subgraph_document(source)
    reader = _Reader(source, document)
    subgraph = reader.read()
    if reader.errors:
        raise CompositionError(reader.errors)
    return subgraph


class _Reader:
    """Holds the per-subgraph lookups while one document is read."""

    def __init__(self, source: SubgraphSource, document: DocumentNode) -> None:
        self.source = source
        self.document = document
        self.errors: list[str] = []
        schema_directives: list[DirectiveNode] = []
        for definition in document.definitions:
            if isinstance(definition, SchemaDefinitionNode | SchemaExtensionNode):
                schema_directives.extend(definition.directives or ())
        self.schema_directives = schema_directives
        self.names: FederationNames = federation_names(schema_directives)
        self.composed: dict[str, ComposedDirective] = {}
        self.root_renames: dict[str, str] = {}

    def error(self, message: str) -> None:
        self.errors.append(f"[{self.source.name}] {message}")

    def read(self) -> Subgraph:
        self._read_composed_directives()
        root_types = self._read_root_types()
        groups: dict[str, list[TypeDefinitionNode | TypeExtensionNode]] = defaultdict(list)
        for definition in self.document.definitions:
            if isinstance(definition, TypeDefinitionNode | TypeExtensionNode):
                name = definition.name.value
                if name in FEDERATION_TYPES or self._is_federation_plumbing(name):
                    continue
                groups[self.root_renames.get(name, name)].append(definition)
        types = {name: self._read_type(name, nodes) for name, nodes in groups.items()}
        types = {name: definition for name, definition in types.items() if definition is not None}
        if "Query" not in types:
            types["Query"] = TypeDefinition(name="Query", kind="OBJECT")
        types = self._upgrade(types)
        used = self._used_fields(types)
        return Subgraph(
            name=self.source.name,
            url=self.source.url,
            federation_version=self.names.version,
            types=types,
            root_types=tuple(sorted({*root_types, "Query"})),
            composed_directives=tuple(self.composed.values()),
            executable_directives=self._read_executable_directives(),
            used_fields=frozenset(used),
        )

    def _is_federation_plumbing(self, name: str) -> bool:
        prefix = next(
            (link.prefix or "federation" for link in self.names.links if "federation/" in link.url),
            None,
        )
        return prefix is not None and name.startswith(f"{prefix}__")

    # schema level -----------------------------------------------------------------------

    def _read_composed_directives(self) -> None:
        definitions = {
            node.name.value: node
            for node in self.document.definitions
            if isinstance(node, DirectiveDefinitionNode)
        }
        for directive in self.schema_directives:
            if self.names.canonical_name(directive.name.value) != "composeDirective":
                continue
            name = str(directive_arguments(directive).get("name") or "").lstrip("@")
            link = next(
                (
                    candidate
                    for candidate in self.names.links
                    if any(local.lstrip("@") == name for _, local in candidate.imports)
                ),
                None,
            )
            if link is None:
                self.error(
                    f'Directive "@{name}" cannot be composed: @composeDirective needs it to be'
                    " imported by a @link to a specification URL"
                )
                continue
            definition = definitions.get(name)
            if definition is None:
                self.error(f'Directive "@{name}" is composed but has no definition')
                continue
            self.composed[name] = ComposedDirective(
                name=name, url=link.url, definition=print_ast(definition)
            )

    def _read_root_types(self) -> list[str]:
        declared: dict[str, str] = {}
        for definition in self.document.definitions:
            if isinstance(definition, SchemaDefinitionNode | SchemaExtensionNode):
                for operation_type in definition.operation_types or ():
                    declared[operation_type.operation.value] = operation_type.type.name.value
        kinds: dict[str, str] = {}
        for definition in self.document.definitions:
            if isinstance(definition, TypeDefinitionNode | TypeExtensionNode):
                kinds.setdefault(definition.name.value, KIND_OF_NODE.get(type(definition), "?"))
        roots: list[str] = []
        for operation, standard in ROOT_OPERATIONS:
            name = declared.get(operation)
            if name is None:
                if standard in kinds:
                    name = standard
                else:
                    continue
            elif name != standard:
                if standard in kinds:
                    self.error(
                        f'The schema has a type named "{standard}" but it is not set as the'
                        f' {operation} root type ("{name}" is instead): rename it or make it'
                        " the root type"
                    )
                self.root_renames[name] = standard
            if kinds.get(name, "OBJECT") != "OBJECT":
                self.error(
                    f'The {operation} root type "{name}" must be an object type but is'
                    f" {_kind_label(kinds[name])}"
                )
            roots.append(standard)
        return roots

    def _read_executable_directives(self) -> tuple[ExecutableDirective, ...]:
        result = []
        for node in self.document.definitions:
            if not isinstance(node, DirectiveDefinitionNode):
                continue
            locations = tuple(
                location.value
                for location in node.locations
                if location.value in EXECUTABLE_LOCATIONS
            )
            if not locations or self.names.canonical_name(node.name.value):
                continue
            arguments = ""
            if node.arguments:
                arguments = "(" + ", ".join(print_ast(a) for a in node.arguments) + ")"
            result.append(
                ExecutableDirective(
                    name=node.name.value,
                    locations=locations,
                    arguments=arguments,
                    repeatable=node.repeatable,
                )
            )
        return tuple(result)

    # types ------------------------------------------------------------------------------

    def _type_reference(self, node: TypeNode):
        return type_reference_from_ast(_rename_type_node(node, self.root_renames))

    def _kept_directives(
        self, nodes: tuple[DirectiveNode, ...] | None
    ) -> tuple[AppliedDirective, ...]:
        kept = []
        for node in nodes or ():
            local = node.name.value
            canonical = self.names.canonical_name(local)
            if canonical in KEPT_FEDERATION_DIRECTIVES:
                name = canonical
            elif local in self.composed or (
                canonical is None and local in BUILT_IN_KEPT_DIRECTIVES
            ):
                name = local
            else:
                continue
            arguments = tuple((a.name.value, print_ast(a.value)) for a in node.arguments or ())
            kept.append(AppliedDirective(name=name, arguments=arguments))
        return tuple(kept)

    def _find(self, nodes: tuple[DirectiveNode, ...] | None, canonical: str) -> list[dict]:
        return [
            directive_arguments(node)
            for node in nodes or ()
            if self.names.canonical_name(node.name.value) == canonical
        ]

    def _read_type(
        self, name: str, nodes: list[TypeDefinitionNode | TypeExtensionNode]
    ) -> TypeDefinition | None:
        kinds = {KIND_OF_NODE.get(type(node), "?") for node in nodes}
        if len(kinds) > 1:
            self.error(f'Type "{name}" is defined with different kinds in the same subgraph')
            return None
        kind = kinds.pop()
        fed1 = self.names.version is None
        type_directives = [d for node in nodes for d in node.directives or ()]
        extends = bool(self._find(tuple(type_directives), "extends"))
        interface_object = bool(self._find(tuple(type_directives), "interfaceObject"))
        keys: list[Key] = []
        fields: list[Field] = []
        description = None
        for node in nodes:
            is_extension = isinstance(node, TypeExtensionNode) or extends
            if getattr(node, "description", None) is not None:
                description = node.description.value
            for arguments in self._find(node.directives, "key"):
                keys.append(
                    Key(
                        fields=str(arguments.get("fields", "")),
                        resolvable=arguments.get("resolvable", True) is not False,
                        extension=is_extension and not fed1,
                    )
                )
            block_shareable = fed1 or bool(self._find(node.directives, "shareable"))
            for field_node in getattr(node, "fields", None) or ():
                if name == "Query" and field_node.name.value in FEDERATION_QUERY_FIELDS:
                    continue
                fields.append(self._read_field(field_node, block_shareable))
        members: list[str] = []
        values: list[EnumValue] = []
        interfaces: list[str] = []
        for node in nodes:
            for member in getattr(node, "types", None) or ():
                member_name = self.root_renames.get(member.name.value, member.name.value)
                if member_name not in members:
                    members.append(member_name)
            for interface in getattr(node, "interfaces", None) or ():
                if interface.name.value not in interfaces:
                    interfaces.append(interface.name.value)
            for value in getattr(node, "values", None) or ():
                values.append(
                    EnumValue(
                        name=value.name.value,
                        description=value.description.value if value.description else None,
                        directives=self._kept_directives(value.directives),
                    )
                )
        if interface_object:
            kind = "INTERFACE"
        return TypeDefinition(
            name=name,
            kind=kind,
            description=description,
            directives=self._kept_directives(tuple(type_directives)),
            fields=tuple(fields),
            interfaces=tuple(interfaces),
            members=tuple(members),
            values=tuple(values),
            keys=tuple(keys),
            interface_object=interface_object,
            line=nodes[0].loc.start_token.line if nodes[0].loc else 0,
        )

    def _read_field(
        self, node: FieldDefinitionNode | InputValueDefinitionNode, block_shareable: bool
    ) -> Field:
        directives = node.directives
        requires = self._find(directives, "requires")
        provides = self._find(directives, "provides")
        override = self._find(directives, "override")
        arguments = tuple(
            Argument(
                name=argument.name.value,
                type=self._type_reference(argument.type),
                default=print_ast(argument.default_value) if argument.default_value else None,
                directives=self._kept_directives(argument.directives),
                description=argument.description.value if argument.description else None,
            )
            for argument in getattr(node, "arguments", None) or ()
        )
        default = getattr(node, "default_value", None)
        return Field(
            name=node.name.value,
            type=self._type_reference(node.type),
            arguments=arguments,
            description=node.description.value if node.description else None,
            directives=self._kept_directives(directives),
            default=print_ast(default) if default is not None else None,
            external=bool(self._find(directives, "external")),
            requires=str(requires[0].get("fields", "")) if requires else None,
            provides=str(provides[0].get("fields", "")) if provides else None,
            shareable=block_shareable or bool(self._find(directives, "shareable")),
            override_from=str(override[0].get("from", "")) if override else None,
            override_label=override[0].get("label") if override else None,
            line=node.loc.start_token.line if node.loc else 0,
        )

    # federation 1 upgrade and implicit metadata --------------------------------------------

    def _upgrade(self, types: dict[str, TypeDefinition]) -> dict[str, TypeDefinition]:
        """Make key fields shareable, drop fake and (in federation 1) unused @external."""
        key_fields: set[tuple[str, str]] = set()
        for definition in types.values():
            for key in definition.keys:
                key_fields |= field_set_coordinates(types, definition.name, key.fields)
        used = self._used_fields(types) if self.names.version is None else set()
        upgraded = {}
        for name, definition in types.items():
            fields = []
            own_key_fields = {
                field_name
                for key in definition.keys
                for owner, field_name in field_set_coordinates(types, name, key.fields)
                if owner == name
            }
            for field_definition in definition.fields:
                coordinate = (name, field_definition.name)
                changes: dict[str, object] = {}
                if coordinate in key_fields:
                    changes["shareable"] = True
                if field_definition.external and field_definition.name in own_key_fields:
                    is_extension = self.names.version is None or any(
                        key.extension for key in definition.keys
                    )
                    if is_extension:
                        changes["external"] = False
                elif (
                    field_definition.external
                    and self.names.version is None
                    and coordinate not in used
                ):
                    continue
                fields.append(_replace(field_definition, changes))
            upgraded[name] = _replace(definition, {"fields": tuple(fields)})
        return upgraded

    def _used_fields(self, types: dict[str, TypeDefinition]) -> set[tuple[str, str]]:
        used: set[tuple[str, str]] = set()
        for definition in types.values():
            for key in definition.keys:
                used |= field_set_coordinates(types, definition.name, key.fields)
            for field_definition in definition.fields:
                if field_definition.requires:
                    used |= field_set_coordinates(types, definition.name, field_definition.requires)
                if field_definition.provides:
                    used |= field_set_coordinates(
                        types, field_definition.type.named_type, field_definition.provides
                    )
        return used


def _replace(record, changes: dict[str, object]):
    from dataclasses import replace

    return replace(record, **changes) if changes else record


def _rename_type_node(node: TypeNode, renames: dict[str, str]) -> TypeNode:
    if not renames:
        return node
    if isinstance(node, NonNullTypeNode):
        return NonNullTypeNode(type=_rename_type_node(node.type, renames))
    if isinstance(node, ListTypeNode):
        return ListTypeNode(type=_rename_type_node(node.type, renames))
    assert isinstance(node, NamedTypeNode)
    name = node.name.value
    if name in renames:
        from graphql.language import NameNode

        return NamedTypeNode(name=NameNode(value=renames[name]))
    return node


def _kind_label(kind: str) -> str:
    return {
        "OBJECT": "an object type",
        "INTERFACE": "an interface type",
        "UNION": "a union type",
        "ENUM": "an enum type",
        "INPUT_OBJECT": "an input object type",
        "SCALAR": "a scalar type",
    }.get(kind, kind)
