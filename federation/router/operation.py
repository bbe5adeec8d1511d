"""A client operation, normalised once so that planning and projection never touch the AST.

Fragment spreads become inline fragments, literal ``@skip``/``@include`` are decided here,
and the remaining variable conditions are kept as ``(variable, expected)`` pairs that a
request evaluates with a dictionary lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    BooleanValueNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    print_ast,
)

#: ``(variable name, value it must have for the selection to be included)``
Condition = tuple[str, bool]
Conditions = tuple[Condition, ...]


@dataclass(frozen=True)
class Field:
    """A field selection; ``arguments`` is its printed argument list (``(id: $id)`` or "")."""

    response_key: str
    name: str
    alias: str | None
    arguments: str
    conditions: Conditions
    selections: tuple[Selection, ...] | None
    variables: frozenset[str]

    def with_selections(self, selections: tuple[Selection, ...] | None) -> Field:
        return Field(
            self.response_key,
            self.name,
            self.alias,
            self.arguments,
            self.conditions,
            selections,
            self.variables,
        )


@dataclass(frozen=True)
class Fragment:
    """An inline fragment (spreads are inlined); ``type_condition`` None means "same type"."""

    type_condition: str | None
    conditions: Conditions
    selections: tuple[Selection, ...]


Selection = Field | Fragment


@dataclass(frozen=True)
class Operation:
    """The normalised operation the planner and the projection work from."""

    kind: str
    name: str | None
    root_type: str
    selections: tuple[Selection, ...]
    variable_definitions: tuple[Any, ...]


def select_operation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode:
    """Pick the operation to run, as the GraphQL spec's GetOperation does."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        if len(operations) != 1:
            raise ValueError("Must provide operation name if query contains multiple operations.")
        return operations[0]
    for operation in operations:
        if operation.name and operation.name.value == operation_name:
            return operation
    raise ValueError(f'Unknown operation named "{operation_name}".')


def normalize(
    document: DocumentNode, operation: OperationDefinitionNode, root_type: str
) -> Operation:
    """Turn the chosen operation into frozen selections."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return Operation(
        kind=operation.operation.value,
        name=operation.name.value if operation.name else None,
        root_type=root_type,
        selections=_selections(operation.selection_set, fragments),
        variable_definitions=tuple(operation.variable_definitions or ()),
    )


def _conditions(node: Any) -> Conditions | None:
    """Variable conditions of a selection, or None when a literal excludes it."""
    result: list[Condition] = []
    for directive in node.directives or ():
        name = directive.name.value
        if name not in ("skip", "include"):
            continue
        value = next((a.value for a in directive.arguments or () if a.name.value == "if"), None)
        expected = name == "include"
        if isinstance(value, BooleanValueNode):
            if value.value != expected:
                return None
        elif isinstance(value, VariableNode):
            result.append((value.name.value, expected))
    return tuple(result)


def _variables_in(node: Any) -> frozenset[str]:
    names: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, VariableNode):
            names.add(value.name.value)
            return
        for attr in ("fields", "values"):
            for item in getattr(value, attr, None) or ():
                walk(getattr(item, "value", item))

    for argument in node.arguments or ():
        walk(argument.value)
    return frozenset(names)


def _selections(
    selection_set: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode]
) -> tuple[Selection, ...]:
    if selection_set is None:
        return ()
    result: list[Selection] = []
    for node in selection_set.selections:
        conditions = _conditions(node)
        if conditions is None:
            continue
        if isinstance(node, FieldNode):
            arguments = ""
            if node.arguments:
                arguments = "(" + ", ".join(print_ast(a) for a in node.arguments) + ")"
            result.append(
                Field(
                    response_key=node.alias.value if node.alias else node.name.value,
                    name=node.name.value,
                    alias=node.alias.value if node.alias else None,
                    arguments=arguments,
                    conditions=conditions,
                    selections=(
                        _selections(node.selection_set, fragments) if node.selection_set else None
                    ),
                    variables=_variables_in(node),
                )
            )
        elif isinstance(node, InlineFragmentNode):
            result.append(
                Fragment(
                    node.type_condition.name.value if node.type_condition else None,
                    conditions,
                    _selections(node.selection_set, fragments),
                )
            )
        elif isinstance(node, FragmentSpreadNode):
            definition = fragments[node.name.value]
            result.append(
                Fragment(
                    definition.type_condition.name.value,
                    conditions,
                    _selections(definition.selection_set, fragments),
                )
            )
    return tuple(result)


def field_set_selections(selection_set: SelectionSetNode) -> tuple[Selection, ...]:
    """A parsed ``FieldSet`` as operation selections."""
    return _selections(selection_set, {})
