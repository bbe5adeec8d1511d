"""Which deprecated parts of the schema an operation uses, found once per document.

A deprecated field, argument, input field or enum value written in the operation (or in a
fragment it spreads) is named by its schema coordinate: ``Shipment.live``,
``Query.orders(first:)``, ``ReturnLineInput.reason``, ``AdjustmentReason.COUNT``. The router
computes them when it prepares a document, so counting who still uses what costs a request
nothing but a call with a tuple it already holds. Enum values sent as variables are not
seen here: they belong to the request, not to the document.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    DocumentNode,
    EnumValueNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLSchema,
    ObjectFieldNode,
    OperationDefinitionNode,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    get_named_type,
    visit,
)
from graphql.language import ArgumentNode


def deprecated_coordinates(
    schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode
) -> tuple[str, ...]:
    """The deprecated coordinates ``operation`` uses, sorted, each once."""
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    reachable = _reachable_fragments(operation, fragments)
    type_info = TypeInfo(schema)
    found: set[str] = set()
    visit(
        DocumentNode(definitions=(operation, *reachable)),
        TypeInfoVisitor(type_info, _Collector(type_info, found)),
    )
    return tuple(sorted(found))


def _reachable_fragments(
    operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]
) -> list[FragmentDefinitionNode]:
    seen: dict[str, FragmentDefinitionNode] = {}
    pending: list[Any] = [operation]
    while pending:
        node = pending.pop()

        class Spreads(Visitor):
            def enter_fragment_spread(self, spread: FragmentSpreadNode, *_: Any) -> None:
                name = spread.name.value
                if name not in seen and name in fragments:
                    seen[name] = fragments[name]
                    pending.append(fragments[name])

        visit(node, Spreads())
    return list(seen.values())


class _Collector(Visitor):
    def __init__(self, type_info: TypeInfo, found: set[str]) -> None:
        super().__init__()
        self.type_info = type_info
        self.found = found
        self.field_names: list[str] = []

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        self.field_names.append(node.name.value)
        definition = self.type_info.get_field_def()
        parent = self.type_info.get_parent_type()
        if definition is not None and parent is not None and definition.deprecation_reason:
            self.found.add(f"{parent.name}.{node.name.value}")

    def leave_field(self, *_: Any) -> None:
        self.field_names.pop()

    def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
        argument = self.type_info.get_argument()
        if argument is None or argument.deprecation_reason is None:
            return
        directive = self.type_info.get_directive()
        if directive is not None:
            self.found.add(f"@{directive.name}({node.name.value}:)")
            return
        parent = self.type_info.get_parent_type()
        if parent is not None and self.field_names:
            self.found.add(f"{parent.name}.{self.field_names[-1]}({node.name.value}:)")

    def enter_object_field(self, node: ObjectFieldNode, *_: Any) -> None:
        parent = get_named_type(self.type_info.get_parent_input_type())
        if isinstance(parent, GraphQLInputObjectType):
            input_field = parent.fields.get(node.name.value)
            if input_field is not None and input_field.deprecation_reason is not None:
                self.found.add(f"{parent.name}.{node.name.value}")

    def enter_enum_value(self, node: EnumValueNode, *_: Any) -> None:
        enum = get_named_type(self.type_info.get_input_type())
        if isinstance(enum, GraphQLEnumType):
            value = enum.values.get(node.value)
            if value is not None and value.deprecation_reason is not None:
                self.found.add(f"{enum.name}.{node.value}")
