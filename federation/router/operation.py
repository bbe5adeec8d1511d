"""A client operation, normalised once so that planning and projection never touch the AST.

Fragment spreads become inline fragments, literal ``@skip``/``@include`` are decided here,
and the remaining variable conditions are kept as ``(variable, expected)`` pairs that a
request evaluates with a dictionary lookup. Each named fragment is normalised once and its
selections shared by every spread of it, so normalising is linear in the document however
often fragments spread each other.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
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
    """A field selection; ``arguments`` is its printed argument list (``(id: $id)`` or "").

    ``withheld`` marks a field authorization removed: never fetched, null in the answer.
    """

    response_key: str
    name: str
    alias: str | None
    arguments: str
    conditions: Conditions
    selections: tuple[Selection, ...] | None
    variables: frozenset[str]
    withheld: bool = False

    def with_selections(self, selections: tuple[Selection, ...] | None) -> Field:
        return Field(
            self.response_key,
            self.name,
            self.alias,
            self.arguments,
            self.conditions,
            selections,
            self.variables,
            self.withheld,
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
    fragments = _Fragments(
        {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    )
    return Operation(
        kind=operation.operation.value,
        name=operation.name.value if operation.name else None,
        root_type=root_type,
        selections=_selections(operation.selection_set, fragments),
        variable_definitions=tuple(operation.variable_definitions or ()),
    )


class _Fragments:
    """A document's fragment definitions and, once normalised, their shared selections."""

    def __init__(self, definitions: dict[str, FragmentDefinitionNode]) -> None:
        self.definitions = definitions
        self._normalized: dict[str, tuple[Selection, ...]] = {}

    def selections(self, name: str) -> tuple[Selection, ...]:
        normalized = self._normalized.get(name)
        if normalized is None:
            normalized = _selections(self.definitions[name].selection_set, self)
            self._normalized[name] = normalized
        return normalized


def variable_conditions(node: Any) -> Conditions | None:
    """The variable ``@skip``/``@include`` conditions of a selection, or None when a literal
    excludes it."""
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
    selection_set: SelectionSetNode | None, fragments: _Fragments
) -> tuple[Selection, ...]:
    if selection_set is None:
        return ()
    result: list[Selection] = []
    for node in selection_set.selections:
        conditions = variable_conditions(node)
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
            definition = fragments.definitions[node.name.value]
            result.append(
                Fragment(
                    definition.type_condition.name.value,
                    conditions,
                    fragments.selections(node.name.value),
                )
            )
    return tuple(result)


def field_set_selections(selection_set: SelectionSetNode) -> tuple[Selection, ...]:
    """A parsed ``FieldSet`` as operation selections."""
    return _selections(selection_set, _Fragments({}))


def merge_response_keys(selections: tuple[Selection, ...], root_type: str) -> tuple[Selection, ...]:
    """Fields with one response key merged into one field, as GraphQL's CollectFields does.

    The planner then fetches each response key once: two selections of one mutation field
    run it once, and two sub-selections of one field are fetched together. Fragments on the
    parent's own type are inlined first. Occurrences merge when one's conditions are a subset
    of the other's: the merged field keeps the weaker conditions and the extra ones guard the
    other occurrence's sub-selection. Occurrences under unrelated conditions stay apart here
    (one field cannot carry "either condition"); the planner joins those of a mutation.
    """
    return _ResponseKeyMerger().merge(selections, root_type, root=True)


class _ResponseKeyMerger:
    """One merge; each distinct selection tuple is merged once (fragments are shared)."""

    def __init__(self) -> None:
        # Keyed by identity; each entry keeps its input alive so that no id is reused.
        self._merged: dict[tuple[int, str | None, bool], tuple[tuple[Selection, ...], ...]] = {}

    def merge(
        self, selections: tuple[Selection, ...], parent_type: str | None, root: bool = False
    ) -> tuple[Selection, ...]:
        memo_key = (id(selections), parent_type, root)
        known = self._merged.get(memo_key)
        if known is None:
            merged = self._merge(selections, parent_type, root)
            known = self._merged[memo_key] = (selections, merged)
        return known[1]

    def _merge(
        self, selections: tuple[Selection, ...], parent_type: str | None, root: bool
    ) -> tuple[Selection, ...]:
        result: list[Selection] = []
        first_of_key: dict[str, int] = {}
        for selection in _inline_fragments_that_apply(selections, parent_type, root):
            if isinstance(selection, Fragment):
                inner = self.merge(selection.selections, selection.type_condition)
                result.append(Fragment(selection.type_condition, selection.conditions, inner))
                continue
            index = first_of_key.get(selection.response_key)
            if index is not None:
                combined = _combine(result[index], selection)  # type: ignore[arg-type]
                if combined is not None:
                    result[index] = combined
                    continue
            else:
                first_of_key[selection.response_key] = len(result)
            result.append(selection)
        return tuple(
            selection.with_selections(self.merge(selection.selections, None))
            if isinstance(selection, Field) and selection.selections is not None
            else selection
            for selection in result
        )


def _inline_fragments_that_apply(
    selections: tuple[Selection, ...], parent_type: str | None, root: bool
) -> list[Selection]:
    """Inline fragments on the parent's own type; at the root their conditions move onto
    their fields (the planner plans root fields one by one), below it only unconditional
    fragments are inlined so that a subgraph query keeps one guard per conditional part."""
    flat: list[Selection] = []
    for selection in selections:
        if (
            isinstance(selection, Fragment)
            and selection.type_condition in (None, parent_type)
            and (root or not selection.conditions)
        ):
            for inner in _inline_fragments_that_apply(selection.selections, parent_type, root):
                flat.append(_guarded(inner, selection.conditions))
        else:
            flat.append(selection)
    return flat


def _guarded(selection: Selection, conditions: Conditions) -> Selection:
    if not conditions:
        return selection
    if isinstance(selection, Field):
        return replace(selection, conditions=conditions + selection.conditions)
    return Fragment(
        selection.type_condition, conditions + selection.conditions, selection.selections
    )


def _combine(first: Field, second: Field) -> Field | None:
    """One field for two occurrences of a response key, or None when they cannot merge."""
    if set(first.conditions) <= set(second.conditions):
        weaker, stronger = first, second
    elif set(second.conditions) < set(first.conditions):
        weaker, stronger = second, first
    else:
        return None
    if first.selections is None or second.selections is None:
        return replace(first, conditions=weaker.conditions)
    extra = tuple(c for c in stronger.conditions if c not in weaker.conditions)

    def part(occurrence: Field) -> tuple[Selection, ...]:
        inner = occurrence.selections or ()
        if occurrence is stronger and extra:
            return (Fragment(None, extra, inner),)
        return inner

    return replace(first, conditions=weaker.conditions, selections=(*part(first), *part(second)))
