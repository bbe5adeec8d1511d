"""Field sets: the selection strings of ``@key``, ``@requires`` and ``@provides``."""

from __future__ import annotations

from dataclasses import dataclass

from graphql import GraphQLSyntaxError, parse
from graphql.language import (
    FieldNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)


@dataclass(frozen=True)
class FieldSelection:
    """One selected field, its sub-selections, and the type condition it sits under, if any."""

    name: str
    selections: tuple[FieldSelection, ...]
    has_arguments: bool = False
    type_condition: str | None = None


def parse_field_set(text: str) -> tuple[FieldSelection, ...]:
    """Parse ``"id sku pkg { id }"``; raises ValueError with the parser's message."""
    try:
        document = parse("{" + text + "}", no_location=True)
    except GraphQLSyntaxError as error:
        raise ValueError(error.message) from None
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    selections = _convert(operation.selection_set, None)
    if not selections:
        raise ValueError("the field set selects no field")
    return selections


def _convert(
    selection_set: SelectionSetNode | None, condition: str | None
) -> tuple[FieldSelection, ...]:
    if selection_set is None:
        return ()
    result: list[FieldSelection] = []
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            result.append(
                FieldSelection(
                    name=selection.name.value,
                    selections=_convert(selection.selection_set, None),
                    has_arguments=bool(selection.arguments),
                    type_condition=condition,
                )
            )
        elif isinstance(selection, InlineFragmentNode):
            inner = selection.type_condition.name.value if selection.type_condition else condition
            result.extend(_convert(selection.selection_set, inner))
        else:
            raise ValueError("named fragment spreads are not allowed in a field set")
    return tuple(result)
