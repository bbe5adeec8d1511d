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

from itertools import count
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

from federation.router.operation import Conditions, Field, Fragment, Selection

_INVALID = object()
_INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})

# What a collected field is, decided once when its entry is sealed.
_TYPENAME, _INTROSPECTION, _UNKNOWN, _SCALAR, _OTHER, _WITHHELD = range(6)

#: A response path as a chain of ``(parent, key)`` pairs: cheap to extend for every value,
#: turned into a list only when an error is reported.
PathChain = tuple[Any, Any] | None


def _path_list(chain: PathChain) -> list[Any]:
    keys: list[Any] = []
    while chain is not None:
        chain, key = chain
        keys.append(key)
    keys.reverse()
    return keys


def _check_string(value: Any) -> Any:
    return value if isinstance(value, str) else _INVALID


def _check_int(value: Any) -> Any:
    return value if isinstance(value, int) and not isinstance(value, bool) else _INVALID


def _check_float(value: Any) -> Any:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else _INVALID


def _check_boolean(value: Any) -> Any:
    return value if isinstance(value, bool) else _INVALID


def _check_id(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _INVALID


def _check_custom(value: Any) -> Any:
    return value


_SCALAR_CHECKS = {
    "String": _check_string,
    "Int": _check_int,
    "Float": _check_float,
    "Boolean": _check_boolean,
    "ID": _check_id,
}


class _Collected:
    __slots__ = (
        "check",
        "child_fields",
        "children",
        "kind",
        "name",
        "non_null",
        "occurrences",
        "position",
        "response_key",
        "scalar_name",
        "type",
        "unconditional",
        "withheld",
    )

    def __init__(self, response_key: str, name: str, field_type: GraphQLOutputType | None) -> None:
        self.response_key = response_key
        self.name = name
        self.type = field_type
        #: Each occurrence: its conditions, its sub-selection, its place in the selection.
        self.occurrences: list[tuple[Conditions, tuple[Selection, ...] | None, int]] = []
        #: Whether each occurrence was withheld by authorization (all must be to withhold).
        self.withheld: list[bool] = []
        self.position = 0
        self.unconditional = False
        self.children: list[tuple[Selection, ...]] = []
        self.child_fields: dict[str, list[_Collected]] = {}
        self.kind = _OTHER
        self.non_null = False
        self.scalar_name = ""
        self.check = _check_custom

    def seal(self, at_root: bool) -> None:
        """Precompute the common cases: no @skip/@include, and scalar leaves."""
        self.unconditional = all(not conditions for conditions, _, _ in self.occurrences)
        self.children = [s for _, s, _ in self.occurrences if s is not None]
        self.position = self.occurrences[0][2]
        field_type = self.type
        if field_type is not None:
            self.non_null = isinstance(field_type, GraphQLNonNull)
        if self.withheld and all(self.withheld):
            self.kind = _WITHHELD
        elif self.name == "__typename":
            self.kind = _TYPENAME
        elif self.name in _INTROSPECTION_ROOTS and at_root:
            self.kind = _INTROSPECTION
        elif field_type is None:
            self.kind = _UNKNOWN
        else:
            self.non_null = isinstance(field_type, GraphQLNonNull)
            inner = field_type.of_type if self.non_null else field_type  # type: ignore[union-attr]
            if isinstance(inner, GraphQLScalarType):
                self.kind = _SCALAR
                self.scalar_name = inner.name
                self.check = _SCALAR_CHECKS.get(inner.name, _check_custom)


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
        self._root_fields: list[_Collected] | None = None

    def project(
        self, data: dict[str, Any], variables: dict[str, Any], errors: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        """The client's ``data``; appends null-propagation errors to ``errors``."""
        run = _Run(self, variables, errors)
        root_fields = self._root_fields
        if root_fields is None:
            root_fields = self._root_fields = self.fields_for(
                self.root_type, [self.selections], at_root=True
            )
        result = run.complete_object(data, self.root_type, root_fields, None)
        return None if result is _INVALID else result

    def fields_for(
        self,
        object_type: GraphQLObjectType,
        selection_sets: list[tuple[Selection, ...]],
        at_root: bool = False,
    ) -> list[_Collected]:
        # Selection tuples belong to the operation this projector holds, so ids are stable.
        cache_key = (object_type.name, tuple(id(s) for s in selection_sets))
        cached = self._fields.get(cache_key)
        if cached is not None:
            return cached
        collected: dict[str, _Collected] = {}
        positions = count()
        for selections in selection_sets:
            self._collect(object_type, selections, (), collected, positions)
        result = list(collected.values())
        for entry in result:
            entry.seal(at_root)
        self._fields[cache_key] = result
        return result

    def child_fields(self, entry: _Collected, object_type: GraphQLObjectType) -> list[_Collected]:
        """The fields below an unconditional entry for one runtime type, remembered on it."""
        fields = entry.child_fields.get(object_type.name)
        if fields is None:
            fields = entry.child_fields[object_type.name] = self.fields_for(
                object_type, entry.children
            )
        return fields

    def _collect(
        self,
        object_type: GraphQLObjectType,
        selections: tuple[Selection, ...],
        conditions: Conditions,
        collected: dict[str, _Collected],
        positions: count[int],
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
                entry.occurrences.append(
                    (conditions + selection.conditions, selection.selections, next(positions))
                )
                entry.withheld.append(selection.withheld)
            elif isinstance(selection, Fragment) and self._applies(
                selection.type_condition, object_type
            ):
                self._collect(
                    object_type,
                    selection.selections,
                    conditions + selection.conditions,
                    collected,
                    positions,
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

    def _error(self, message: str, chain: PathChain) -> None:
        path = _path_list(chain)
        key = tuple(path)
        for length in range(len(key), 0, -1):
            if key[:length] in self.error_paths:
                return
        for existing in self.error_paths:
            if existing[: len(key)] == key:
                return
        self.error_paths.add(key)
        self.errors.append({"message": message, "path": path})

    def _active(self, entry: _Collected) -> tuple[list[tuple[Selection, ...] | None], int] | None:
        """The included occurrences' sub-selections and the place of the first one."""
        variables = self.variables
        active = [
            (selections, position)
            for conditions, selections, position in entry.occurrences
            if all(bool(variables.get(name)) == expected for name, expected in conditions)
        ]
        if not active:
            return None
        return [selections for selections, _ in active], active[0][1]

    def complete_object(
        self,
        data: dict[str, Any],
        object_type: GraphQLObjectType,
        fields: list[_Collected],
        path: PathChain,
    ) -> Any:
        result: dict[str, Any] = {}
        # CollectFields places a key where its first included occurrence is: when that is
        # not the first occurrence, the keys are put back in order at the end.
        moved: dict[str, int] | None = None
        for entry in fields:
            if entry.unconditional:
                children = entry.children
            else:
                active = self._active(entry)
                if active is None:
                    continue
                selections, position = active
                children = [s for s in selections if s is not None]
                if position != entry.position:
                    moved = moved or {}
                    moved[entry.response_key] = position
            key = entry.response_key
            kind = entry.kind
            if kind == _SCALAR:
                value = data.get(key)
                if value is None:
                    if entry.non_null:
                        self._error(
                            f"Cannot return null for non-nullable field {entry.name}.", (path, key)
                        )
                        return _INVALID
                    result[key] = None
                    continue
                checked = entry.check(value)
                if checked is _INVALID:
                    self._error(
                        f"Invalid value for {entry.scalar_name} field {entry.name}.", (path, key)
                    )
                    if entry.non_null:
                        return _INVALID
                    checked = None
                result[key] = checked
                continue
            if kind == _TYPENAME:
                result[key] = object_type.name
                continue
            if kind == _WITHHELD:
                # Authorization removed it (its error says so): null, propagated when the
                # field is non-null, whatever the merged data holds.
                if entry.non_null:
                    return _INVALID
                result[key] = None
                continue
            if kind == _INTROSPECTION:
                result[key] = data.get(key)
                continue
            if kind == _UNKNOWN:
                result[key] = None
                continue
            value = self.complete_value(
                data.get(key),
                entry.type,
                children,
                (path, key),
                entry,  # type: ignore[arg-type]
            )
            if value is _INVALID:
                return _INVALID
            result[key] = value
        if moved is not None:
            place = {entry.response_key: entry.position for entry in fields} | moved
            return {key: result[key] for key in sorted(result, key=place.__getitem__)}
        return result

    def complete_value(
        self,
        value: Any,
        field_type: GraphQLOutputType,
        selection_sets: list[tuple[Selection, ...]],
        path: PathChain,
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
        path: PathChain,
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
                    item, item_type, selection_sets, (path, index), entry
                )
                if completed is _INVALID:
                    return _INVALID
                items.append(completed)
            return items
        if isinstance(field_type, GraphQLScalarType):
            checked = _SCALAR_CHECKS.get(field_type.name, _check_custom)(value)
            if checked is _INVALID:
                self._error(f"Invalid value for {field_type.name} field {entry.name}.", path)
                return None
            return checked
        if isinstance(field_type, GraphQLEnumType):
            if not isinstance(value, str) or value not in self.projector.enum_values(field_type):
                self._error(f"Invalid value for enum {field_type.name} field {entry.name}.", path)
                return None
            return value
        if not isinstance(value, dict):
            self._error(f"Expected an object for field {entry.name}.", path)
            return None
        projector = self.projector
        if isinstance(field_type, GraphQLObjectType):
            object_type = field_type
        else:
            typename = value.get("__typename")
            if isinstance(field_type, GraphQLInterfaceType) and typename in (None, field_type.name):
                # Data from an @interfaceObject subgraph whose concrete type was not needed.
                fields = projector.fields_for(field_type, selection_sets)  # type: ignore[arg-type]
                return self.complete_object(value, field_type, fields, path)  # type: ignore[arg-type]
            object_type = projector.schema.type_map.get(typename) if typename else None
            if not isinstance(object_type, GraphQLObjectType) or not projector.schema.is_sub_type(
                field_type, object_type
            ):
                self._error(
                    f"Abstract type {field_type.name} resolved to an unknown type "
                    f"{typename!r} for field {entry.name}.",
                    path,
                )
                return None
        if entry.unconditional:
            fields = projector.child_fields(entry, object_type)
        else:
            fields = projector.fields_for(object_type, selection_sets)
        return self.complete_object(value, object_type, fields, path)
