"""Shaping the merged subgraph data into the client's response.

The merged data holds everything the fetches returned (plus the planner's key and
@requires fields). Projection walks the client's own selection once, per object choosing
the fields that apply to its runtime type, checking leaf values against the API schema and
propagating nulls as the GraphQL spec prescribes: a null (or invalid value) in a non-null
position nulls the nearest nullable parent and records one error. The field lists per
(selection, runtime type) are computed once and cached on the projector, which belongs to
one prepared operation.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
)

from gateway.federation.operation import Conditions, Field, Fragment, Selection

_INVALID = object()
_INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})


class _Collected:
    __slots__ = ("children", "name", "occurrences", "response_key", "type", "unconditional")

    def __init__(self, response_key: str, name: str, field_type: GraphQLOutputType | None) -> None:
        self.response_key = response_key
        self.name = name
        self.type = field_type
        self.occurrences: list[tuple[Conditions, tuple[Selection, ...] | None]] = []
        self.unconditional = False
        self.children: list[tuple[Selection, ...]] = []

    def seal(self) -> None:
        """Precompute the common case: no @skip/@include on any occurrence."""
        self.unconditional = all(not conditions for conditions, _ in self.occurrences)
        self.children = [s for _, s in self.occurrences if s is not None]


def _builtin_check(name: str, value: Any) -> bool:
    if name == "Int":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "Float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if name == "String":
        return isinstance(value, str)
    if name == "Boolean":
        return isinstance(value, bool)
    if name == "ID":
        return isinstance(value, str | int) and not isinstance(value, bool)
    return True


class Projector:
    """Projects merged data onto one operation's selection."""

    def __init__(
        self, schema: GraphQLSchema, root_type: GraphQLObjectType, selections: tuple[Selection, ...]
    ) -> None:
        self.schema = schema
        self.root_type = root_type
        self.selections = selections
        self._fields: dict[tuple[str, tuple[int, ...]], list[_Collected]] = {}
        self._enum_values: dict[str, frozenset[str]] = {}

    def project(
        self, data: dict[str, Any], variables: dict[str, Any], errors: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        """The client's ``data``; appends null-propagation errors to ``errors``."""
        run = _Run(self, variables, errors)
        result = run.complete_object(data, self.root_type, [self.selections], [])
        return None if result is _INVALID else result

    def fields_for(
        self, object_type: GraphQLObjectType, selection_sets: list[tuple[Selection, ...]]
    ) -> list[_Collected]:
        # Selection tuples belong to the operation this projector holds, so ids are stable.
        cache_key = (object_type.name, tuple(id(s) for s in selection_sets))
        cached = self._fields.get(cache_key)
        if cached is not None:
            return cached
        collected: dict[str, _Collected] = {}
        for selections in selection_sets:
            self._collect(object_type, selections, (), collected)
        result = list(collected.values())
        for entry in result:
            entry.seal()
        self._fields[cache_key] = result
        return result

    def _collect(
        self,
        object_type: GraphQLObjectType,
        selections: tuple[Selection, ...],
        conditions: Conditions,
        collected: dict[str, _Collected],
    ) -> None:
        for selection in selections:
            if isinstance(selection, Field):
                entry = collected.get(selection.response_key)
                if entry is None:
                    field_def = object_type.fields.get(selection.name)
                    entry = collected[selection.response_key] = _Collected(
                        selection.response_key,
                        selection.name,
                        field_def.type if field_def is not None else None,
                    )
                entry.occurrences.append((conditions + selection.conditions, selection.selections))
            elif isinstance(selection, Fragment) and self._applies(
                selection.type_condition, object_type
            ):
                self._collect(
                    object_type, selection.selections, conditions + selection.conditions, collected
                )

    def _applies(self, condition: str | None, object_type: GraphQLObjectType) -> bool:
        if condition is None or condition == object_type.name:
            return True
        condition_type = self.schema.type_map.get(condition)
        if condition_type is None or isinstance(condition_type, GraphQLObjectType):
            return False
        if isinstance(object_type, GraphQLInterfaceType):
            return False
        return self.schema.is_sub_type(condition_type, object_type)  # type: ignore[arg-type]

    def enum_values(self, enum_type: GraphQLEnumType) -> frozenset[str]:
        values = self._enum_values.get(enum_type.name)
        if values is None:
            values = self._enum_values[enum_type.name] = frozenset(enum_type.values)
        return values


class _Run:
    """Per-request state of one projection."""

    __slots__ = ("error_paths", "errors", "projector", "variables")

    def __init__(
        self, projector: Projector, variables: dict[str, Any], errors: list[dict[str, Any]]
    ) -> None:
        self.projector = projector
        self.variables = variables
        self.errors = errors
        self.error_paths = {tuple(e["path"]) for e in errors if e.get("path")}

    def _error(self, message: str, path: list[Any]) -> None:
        key = tuple(path)
        for length in range(len(key), 0, -1):
            if key[:length] in self.error_paths:
                return
        for existing in self.error_paths:
            if existing[: len(key)] == key:
                return
        self.error_paths.add(key)
        self.errors.append({"message": message, "path": list(path)})

    def _active(self, entry: _Collected) -> list[tuple[Selection, ...] | None] | None:
        variables = self.variables
        active = [
            selections
            for conditions, selections in entry.occurrences
            if all(bool(variables.get(name)) == expected for name, expected in conditions)
        ]
        return active or None

    def complete_object(
        self,
        data: dict[str, Any],
        object_type: GraphQLObjectType,
        selection_sets: list[tuple[Selection, ...]],
        path: list[Any],
    ) -> Any:
        result: dict[str, Any] = {}
        for entry in self.projector.fields_for(object_type, selection_sets):
            if entry.unconditional:
                children = entry.children
            else:
                active = self._active(entry)
                if active is None:
                    continue
                children = [s for s in active if s is not None]
            key = entry.response_key
            if entry.name == "__typename":
                result[key] = object_type.name
                continue
            if entry.name in _INTROSPECTION_ROOTS and not path:
                result[key] = data.get(key)
                continue
            field_type = entry.type
            if field_type is None:
                result[key] = None
                continue
            value = self.complete_value(data.get(key), field_type, children, [*path, key], entry)
            if value is _INVALID:
                return _INVALID
            result[key] = value
        return result

    def complete_value(
        self,
        value: Any,
        field_type: GraphQLOutputType,
        selection_sets: list[tuple[Selection, ...]],
        path: list[Any],
        entry: _Collected,
    ) -> Any:
        if isinstance(field_type, GraphQLNonNull):
            completed = self._complete_inner(value, field_type.of_type, selection_sets, path, entry)
            if completed is None:
                self._error(f"Cannot return null for non-nullable field {entry.name}.", path)
                return _INVALID
            return completed
        completed = self._complete_inner(value, field_type, selection_sets, path, entry)
        return None if completed is _INVALID else completed

    def _complete_inner(
        self,
        value: Any,
        field_type: Any,
        selection_sets: list[tuple[Selection, ...]],
        path: list[Any],
        entry: _Collected,
    ) -> Any:
        if value is None:
            return None
        if isinstance(field_type, GraphQLList):
            if not isinstance(value, list):
                self._error(f"Expected a list for field {entry.name}.", path)
                return None
            item_type = field_type.of_type
            items = []
            for index, item in enumerate(value):
                completed = self.complete_value(
                    item, item_type, selection_sets, [*path, index], entry
                )
                if completed is _INVALID:
                    return _INVALID
                items.append(completed)
            return items
        if isinstance(field_type, GraphQLScalarType):
            if not _builtin_check(field_type.name, value):
                self._error(f"Invalid value for {field_type.name} field {entry.name}.", path)
                return None
            if field_type.name == "ID" and isinstance(value, int):
                return str(value)
            return value
        if isinstance(field_type, GraphQLEnumType):
            if not isinstance(value, str) or value not in self.projector.enum_values(field_type):
                self._error(f"Invalid value for enum {field_type.name} field {entry.name}.", path)
                return None
            return value
        if not isinstance(value, dict):
            self._error(f"Expected an object for field {entry.name}.", path)
            return None
        if isinstance(field_type, GraphQLObjectType):
            object_type = field_type
        else:
            typename = value.get("__typename")
            if isinstance(field_type, GraphQLInterfaceType) and typename in (None, field_type.name):
                # Data from an @interfaceObject subgraph whose concrete type was not needed.
                return self.complete_object(value, field_type, selection_sets, path)
            object_type = self.projector.schema.type_map.get(typename) if typename else None
            if not isinstance(
                object_type, GraphQLObjectType
            ) or not self.projector.schema.is_sub_type(field_type, object_type):
                self._error(
                    f"Abstract type {field_type.name} resolved to an unknown type "
                    f"{typename!r} for field {entry.name}.",
                    path,
                )
                return None
        return self.complete_object(value, object_type, selection_sets, path)
