"""The query planner: (supergraph, operation) -> QueryPlan, a pure function.

The planner walks the client's selections keeping track of which subgraph query (a "group")
each position belongs to. A field the current subgraph can resolve stays in its query; any
other field moves to an entity fetch of a subgraph that can resolve it, reached through one
of that subgraph's resolvable @key sets, whose fields (and the field's @requires) are first
planned from the current position so the representation can be built. Abstract types are
expanded into the object types the subgraph may return, so every entity fetch is about one
type. Selections no subgraph reachable from the current position can serve (shared root
values without keys) are handed back up and planned again from another root subgraph.
Among subgraphs that can serve a field, the one that resolves most of its sub-selection
locally wins, which keeps the number of sequential fetches small.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

from graphql import (
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLUnionType,
    get_named_type,
    print_ast,
)

from federation.router.errors import OperationError
from federation.router.operation import (
    Conditions,
    Field,
    Fragment,
    Operation,
    Selection,
    field_set_selections,
    merge_response_keys,
)
from federation.router.plan import EntityStep, Fetch, QueryPlan
from federation.router.planner.selection_builder import SelectionBuilder
from federation.router.planner.type_conditions import drop_unreachable_type_conditions
from federation.router.supergraph import Key, Supergraph

Provided = dict[Any, Any] | None

_MAX_RETRIES = 3
_INTROSPECTION = frozenset({"__schema", "__type", "__typename"})


@dataclass(frozen=True)
class _Position:
    """Where planning stands: a group, the selection filled there, what @provides adds."""

    group: _Group
    builder: SelectionBuilder
    provided: Provided


@dataclass
class _EntityOrigin:
    """How an entity fetch reaches its objects: the key, where they come from, @requires."""

    key: Key
    source: _Position
    requires: list[tuple[Selection, ...]] = field(default_factory=list)


@dataclass
class _Group:
    """One subgraph query being planned: a root fetch, or an entity fetch (``origin``)."""

    id: int
    graph: str
    type_name: str
    path: tuple[str, ...]
    origin: _EntityOrigin | None
    builder: SelectionBuilder = field(default_factory=SelectionBuilder)
    depends: set[int] = field(default_factory=set)
    run_if: tuple[Conditions, ...] = ()


def plan_operation(
    supergraph: Supergraph, operation: Operation, enabled_labels: frozenset[str] = frozenset()
) -> QueryPlan:
    """Plan an operation; ``enabled_labels`` are the progressive @override labels in force."""
    return _Planner(supergraph, enabled_labels).plan(operation)


class _Planner:
    def __init__(self, supergraph: Supergraph, labels: frozenset[str]) -> None:
        self.supergraph = supergraph
        self.schema = supergraph.schema
        self.labels = labels
        self.groups: list[_Group] = []
        self.entity_groups: dict[tuple[Any, ...], _Group] = {}
        self.root_groups: dict[str, _Group] = {}
        self.touched: list[set[int]] = []
        self._retries = 0
        self._split_by_type = False

    # -- entry ------------------------------------------------------------------------------

    def plan(self, operation: Operation) -> QueryPlan:
        root = operation.root_type
        selections = drop_unreachable_type_conditions(
            self.supergraph,
            root,
            merge_response_keys(operation.selections, root),
            self._can_resolve,
            self._child_provided,
        )
        fields = [f for f in self._flatten_root(selections) if f.name not in _INTROSPECTION]
        if operation.kind != "mutation":
            for root_field in fields:
                self._plan_root_field(root, root_field, set())
            return self._emit(operation)
        for root_field, run_if in _join_mutation_fields(fields):
            # Each mutation field is its own fetch, after the previous ones: serial execution.
            before = {group.id for group in self.groups}
            self.root_groups = {}
            self._plan_root_field(root, root_field, before)
            for group in self.groups:
                if group.id not in before and group.origin is None:
                    group.run_if = run_if
        return self._emit(operation)

    def _flatten_root(
        self, selections: tuple[Selection, ...], conditions: Conditions = ()
    ) -> list[Field]:
        result: list[Field] = []
        for selection in selections:
            if isinstance(selection, Field):
                result.append(replace(selection, conditions=conditions + selection.conditions))
            else:
                result.extend(
                    self._flatten_root(selection.selections, conditions + selection.conditions)
                )
        return result

    def _plan_root_field(self, root: str, root_field: Field, depends: set[int]) -> None:
        candidates = [
            graph
            for graph in self.supergraph.graphs_of_type(root)
            if self._can_resolve(graph, root, root_field.name, None)
        ]
        remainder: Field | None = root_field
        tried: set[str] = set()
        while remainder is not None:
            options = [graph for graph in candidates if graph not in tried]
            if tried and self._split_by_type:
                # Splitting a shared root field by runtime type would trust every subgraph
                # to return the same object for it; refuse, as other routers do.
                options = []
            if not options:
                raise OperationError(
                    [
                        {
                            "message": f"Cannot plan field {root}.{remainder.name}: no subgraph "
                            "can resolve the whole selection"
                        }
                    ],
                    kind="planning",
                )
            graph = max(
                options,
                key=lambda g: (
                    self._coverage(g, root, (remainder,), None),
                    g in self.root_groups,
                    -candidates.index(g),
                ),
            )
            tried.add(graph)
            group = self.root_groups.get(graph)
            if group is None:
                group = self._new_group(graph, root, (), None)
                group.depends |= depends
                self.root_groups[graph] = group
            self._split_by_type = False
            remainder = self._plan_field(group, root, remainder, (), group.builder, None)

    # -- groups -------------------------------------------------------------------------------

    def _new_group(
        self, graph: str, type_name: str, path: tuple[str, ...], origin: _EntityOrigin | None
    ) -> _Group:
        group = _Group(len(self.groups), graph, type_name, path, origin)
        self.groups.append(group)
        return group

    def _touch(self, group: _Group) -> None:
        for touched in self.touched:
            touched.add(group.id)

    # -- resolvability ------------------------------------------------------------------------

    def _can_resolve(self, graph: str, parent: str, name: str, provided: Provided) -> bool:
        supergraph = self.supergraph
        type_info = supergraph.type_in_graph(parent, graph)
        if type_info is None:
            return False
        meta = supergraph.fields.get((parent, name))
        if meta is None:
            return name == "__typename"
        if not meta.annotated:
            return True
        in_graph = meta.graphs.get(graph)
        if in_graph is None:
            return False
        if in_graph.override_label is not None:
            enabled = in_graph.override_label in self.labels
            if in_graph.override is not None and not enabled:
                return False
            if in_graph.override is None and enabled:
                return False
        elif in_graph.used_overridden:
            return False
        if in_graph.external:
            return _is_provided(provided, parent, name)
        return True

    def _coverage(
        self, graph: str, parent: str, selections: tuple[Selection, ...], provided: Provided
    ) -> int:
        """How many selected fields a subgraph resolves without leaving itself."""
        count = 0
        for selection in selections:
            if isinstance(selection, Fragment):
                count += self._coverage(
                    graph, selection.type_condition or parent, selection.selections, provided
                )
                continue
            if selection.name == "__typename":
                continue
            if self._is_abstract(parent) and not self.supergraph.is_interface_object(parent, graph):
                owners = [parent, *sorted(self.supergraph.possible_types_in_graph(parent, graph))]
            else:
                owners = [parent]
            for owner in owners:
                if self._can_resolve(graph, owner, selection.name, provided):
                    count += 1
                    if selection.selections:
                        child_type = self._field_type_name(owner, selection.name)
                        count += self._coverage(
                            graph,
                            child_type,
                            selection.selections,
                            self._child_provided(graph, owner, selection.name, provided),
                        )
                    break
        return count

    def _providable(
        self, graph: str, parent: str, selections: tuple[Selection, ...], provided: Provided
    ) -> bool:
        for selection in selections:
            if isinstance(selection, Fragment):
                if not self._providable(
                    graph, selection.type_condition or parent, selection.selections, provided
                ):
                    return False
                continue
            if selection.name == "__typename":
                continue
            if not self._can_resolve(graph, parent, selection.name, provided):
                return False
            if selection.selections and not self._providable(
                graph,
                self._field_type_name(parent, selection.name),
                selection.selections,
                self._child_provided(graph, parent, selection.name, provided),
            ):
                return False
        return True

    # -- types --------------------------------------------------------------------------------

    def _is_abstract(self, type_name: str) -> bool:
        return isinstance(
            self.schema.type_map.get(type_name), GraphQLInterfaceType | GraphQLUnionType
        )

    def _field_type_name(self, parent: str, name: str) -> str:
        parent_type = self.schema.type_map[parent]
        return get_named_type(parent_type.fields[name].type).name  # type: ignore[union-attr]

    def _type_applies(self, condition: str | None, type_name: str) -> bool:
        if condition is None or condition == type_name:
            return True
        condition_type = self.schema.type_map.get(condition)
        object_type = self.schema.type_map.get(type_name)
        if condition_type is None or object_type is None:
            return False
        if isinstance(object_type, GraphQLObjectType) and isinstance(
            condition_type, GraphQLInterfaceType | GraphQLUnionType
        ):
            return self.schema.is_sub_type(condition_type, object_type)
        if isinstance(object_type, GraphQLInterfaceType) and isinstance(
            condition_type, GraphQLInterfaceType
        ):
            return self.schema.is_sub_type(condition_type, object_type)
        return False

    def _child_provided(self, graph: str, parent: str, name: str, provided: Provided) -> Provided:
        inherited = _provided_child(provided, parent, name)
        meta = self.supergraph.fields.get((parent, name))
        in_graph = meta.graphs.get(graph) if meta else None
        if in_graph is None or in_graph.provides is None:
            return inherited
        own = _provided_tree(field_set_selections(in_graph.provides))
        return _merge_provided(inherited, own)

    # -- planning -----------------------------------------------------------------------------

    def _plan_selections(
        self,
        group: _Group,
        parent: str,
        selections: tuple[Selection, ...],
        path: tuple[str, ...],
        builder: SelectionBuilder,
        provided: Provided,
    ) -> tuple[Selection, ...]:
        """Plan selections on ``parent`` inside ``group``; returns what could not be planned."""
        if self._is_abstract(parent) and not self.supergraph.is_interface_object(
            parent, group.graph
        ):
            builder.add_typename()
            remainder: list[Selection] = []
            runtime_types = self.supergraph.possible_types_in_graph(parent, group.graph)
            if not runtime_types:
                # The subgraph cannot return any object of this type: only the fields on the
                # abstract type itself can be asked of it.
                own = tuple(
                    s
                    for s in selections
                    if isinstance(s, Field) or s.type_condition in (None, parent)
                )
                return self._plan_object(group, parent, own, path, builder, provided)
            for object_type in sorted(runtime_types):
                if not self._type_applies(parent, object_type):
                    continue
                applicable = self._for_type(object_type, selections)
                if not applicable:
                    continue
                rest = self._plan_object(
                    group, object_type, applicable, path, builder.fragment(object_type), provided
                )
                if rest:
                    self._split_by_type = True
                    remainder.append(Fragment(object_type, (), rest))
            return tuple(remainder)
        return self._plan_object(group, parent, selections, path, builder, provided)

    def _for_type(self, type_name: str, selections: tuple[Selection, ...]) -> tuple[Selection, ...]:
        result: list[Selection] = []
        for selection in selections:
            if isinstance(selection, Fragment):
                if self._type_applies(selection.type_condition, type_name):
                    inner = self._for_type(type_name, selection.selections)
                    if inner:
                        result.append(Fragment(None, selection.conditions, inner))
            else:
                result.append(selection)
        return tuple(result)

    def _plan_object(
        self,
        group: _Group,
        parent: str,
        selections: tuple[Selection, ...],
        path: tuple[str, ...],
        builder: SelectionBuilder,
        provided: Provided,
    ) -> tuple[Selection, ...]:
        remainder: list[Selection] = []
        for selection in selections:
            if isinstance(selection, Field):
                rest = self._plan_field(group, parent, selection, path, builder, provided)
                if rest is not None:
                    remainder.append(rest)
                continue
            condition = selection.type_condition
            if self._type_applies(condition, parent):
                inner = self._plan_object(
                    group,
                    parent,
                    selection.selections,
                    path,
                    builder.at(selection.conditions),
                    provided,
                )
                if inner:
                    remainder.append(Fragment(None, selection.conditions, inner))
            elif self.supergraph.is_interface_object(parent, group.graph) and self._type_applies(
                parent, condition or parent
            ):
                # A concrete type below an @interfaceObject: only a subgraph that knows the
                # real types can answer, through an entity fetch on the interface.
                rest = self._jump(group, parent, selection, path, builder, provided)
                if rest is not None:
                    remainder.append(rest)
        return tuple(remainder)

    def _plan_field(
        self,
        group: _Group,
        parent: str,
        selection: Field,
        path: tuple[str, ...],
        builder: SelectionBuilder,
        provided: Provided,
        requires_met: bool = False,
    ) -> Field | None:
        if selection.name == "__typename":
            if group.origin is None and not path:
                return None
            if self.supergraph.is_interface_object(parent, group.graph):
                return self._jump(group, parent, selection, path, builder, provided)  # type: ignore[return-value]
            return None
        if not self._can_resolve(group.graph, parent, selection.name, provided):
            return self._jump(group, parent, selection, path, builder, provided)  # type: ignore[return-value]
        if not requires_met and self._requires(group.graph, parent, selection.name) is not None:
            # The subgraph needs other subgraphs' fields first: an entity fetch to itself.
            return self._jump(  # type: ignore[return-value]
                group, parent, selection, path, builder, provided, same_graph=True
            )
        target = builder.at(selection.conditions)
        composite = selection.selections is not None
        added = target.add_field(
            selection, composite, self._type_in_graph(group.graph, parent, selection.name)
        )
        self._touch(group)
        if not composite:
            return None
        child_type = self._field_type_name(parent, selection.name)
        if self._is_abstract(child_type):
            added.children.add_typename()  # type: ignore[union-attr]
            narrowed = self._type_in_graph(group.graph, parent, selection.name)
            narrowed = narrowed.replace("!", "").replace("[", "").replace("]", "")
            if narrowed != child_type and narrowed in self.schema.type_map:
                # The subgraph declares a narrower type for this field (@join__field type).
                child_type = narrowed
        rest = self._plan_selections(
            group,
            child_type,
            selection.selections or (),
            (*path, selection.response_key),
            added.children,  # type: ignore[arg-type]
            self._child_provided(group.graph, parent, selection.name, provided),
        )
        if not rest:
            return None
        remainder = selection.with_selections(rest)
        if self._retries < _MAX_RETRIES:
            # Part of the sub-selection is out of reach from here: fetch this field again,
            # with only that part, from another subgraph that can serve it.
            self._retries += 1
            try:
                if group.origin is not None and path == group.path:
                    # At the top of an entity fetch: go back to where the entity came from.
                    source = group.origin.source
                    again = self._jump(
                        source.group,
                        parent,
                        remainder,
                        path,
                        source.builder,
                        source.provided,
                        exclude=frozenset({group.graph}),
                    )
                else:
                    again = self._jump(group, parent, remainder, path, builder, provided)
            finally:
                self._retries -= 1
            if again is None:
                return None
        return remainder

    # -- entity jumps -------------------------------------------------------------------------

    def _type_in_graph(self, graph: str, parent: str, name: str) -> str:
        meta = self.supergraph.fields.get((parent, name))
        in_graph = meta.graphs.get(graph) if meta else None
        if in_graph is not None and in_graph.type:
            return in_graph.type
        return str(self.schema.type_map[parent].fields[name].type)  # type: ignore[union-attr]

    def _requires(self, graph: str, parent: str, name: str) -> Any:
        meta = self.supergraph.fields.get((parent, name))
        in_graph = meta.graphs.get(graph) if meta else None
        return in_graph.requires if in_graph else None

    def _jump_options(
        self,
        graph: str,
        parent: str,
        selection: Selection,
        same_graph: bool = False,
    ) -> list[tuple[str, str, Key]]:
        """(target graph, entity type, key) ways to resolve ``selection`` on ``parent``."""
        supergraph = self.supergraph
        options: list[tuple[str, str, Key]] = []
        if isinstance(selection, Fragment) or selection.name == "__typename":
            # Resolving a concrete type behind an @interfaceObject.
            for target in supergraph.graphs_of_type(parent):
                if target == graph or supergraph.is_interface_object(parent, target):
                    continue
                for key in supergraph.resolvable_keys(parent, target):
                    options.append((target, parent, key))
            return options
        name = selection.name
        entity_types = [parent]
        parent_type = self.schema.type_map.get(parent)
        if isinstance(parent_type, GraphQLObjectType | GraphQLInterfaceType):
            entity_types += [interface.name for interface in parent_type.interfaces]
        for entity_type in entity_types:
            for target in supergraph.graphs_of_type(entity_type):
                if (target == graph) != same_graph:
                    continue
                if entity_type != parent and not supergraph.is_interface_object(
                    entity_type, target
                ):
                    continue
                if not self._can_resolve(target, entity_type, name, None):
                    continue
                for key in supergraph.resolvable_keys(entity_type, target):
                    options.append((target, entity_type, key))
        return options

    def _jump(
        self,
        group: _Group,
        parent: str,
        selection: Selection,
        path: tuple[str, ...],
        builder: SelectionBuilder,
        provided: Provided,
        same_graph: bool = False,
        exclude: frozenset[str] = frozenset(),
    ) -> Selection | None:
        options = [
            option
            for option in self._jump_options(group.graph, parent, selection, same_graph)
            if option[0] not in exclude
        ]
        direct = [
            option
            for option in options
            if self._providable(
                group.graph, parent, field_set_selections(option[2].selection), provided
            )
        ]
        if not direct:
            direct = [
                option
                for option in options
                if self._reachable(group.graph, parent, option[2], provided)
            ]
        if not direct:
            return selection
        sub = (selection,)

        def score(option: tuple[str, str, Key]) -> tuple[int, int, int]:
            target, entity_type, key = option
            existing = (target, entity_type, path, key.fields) in self.entity_groups
            coverage = (
                self._coverage(target, entity_type, sub, None)
                if isinstance(selection, Field)
                else 0
            )
            return (coverage, int(existing), -options.index(option))

        target, entity_type, key = max(direct, key=score)
        requires = None
        if isinstance(selection, Field):
            requires = self._requires(target, entity_type, selection.name)
        touched: set[int] = {group.id}
        self.touched.append(touched)
        try:
            builder.add_typename()
            key_rest = self._plan_selections(
                group, parent, field_set_selections(key.selection), path, builder, provided
            )
            if key_rest:
                return selection
            requires_selections: tuple[Selection, ...] = ()
            if requires is not None:
                requires_selections = _alias_arguments(field_set_selections(requires))
                self._plan_selections(group, parent, requires_selections, path, builder, provided)
        finally:
            self.touched.pop()
        group_key: tuple[Any, ...] = (target, entity_type, path, key.fields)
        entity_group = self.entity_groups.get(group_key)
        if entity_group is not None and (
            entity_group.id in touched
            or _conflicting_requires(entity_group.origin.requires, requires_selections)  # type: ignore[union-attr]
        ):
            # Its own data feeds the requirement: a separate, later fetch.
            group_key += (print_ast(requires) if requires is not None else None,)
            entity_group = self.entity_groups.get(group_key)
        if entity_group is None:
            origin = _EntityOrigin(key, _Position(group, builder, provided))
            entity_group = self._new_group(target, entity_type, path, origin)
            self.entity_groups[group_key] = entity_group
        origin = entity_group.origin
        assert origin is not None
        if requires is not None and requires_selections not in origin.requires:
            origin.requires.append(requires_selections)
        entity_group.depends |= touched - {entity_group.id}
        self._touch(entity_group)
        if isinstance(selection, Fragment):
            rest = self._plan_selections(
                entity_group,
                entity_type,
                (selection,),
                path,
                entity_group.builder,
                None,
            )
            return Fragment(selection.type_condition, selection.conditions, rest) if rest else None
        if selection.name == "__typename":
            entity_group.builder.add_typename()
            return None
        return self._plan_field(
            entity_group, entity_type, selection, path, entity_group.builder, None, True
        )

    def _reachable(self, graph: str, parent: str, key: Key, provided: Provided) -> bool:
        """Whether the key's fields can be fetched from some subgraph reachable from ``graph``."""
        for selection in field_set_selections(key.selection):
            if isinstance(selection, Field) and not self._can_resolve(
                graph, parent, selection.name, provided
            ):
                options = self._jump_options(graph, parent, selection)
                if not any(
                    self._providable(graph, parent, field_set_selections(o[2].selection), provided)
                    for o in options
                ):
                    return False
        return True

    # -- output -------------------------------------------------------------------------------

    def _emit(self, operation: Operation) -> QueryPlan:
        definitions = {d.variable.name.value: print_ast(d) for d in operation.variable_definitions}
        fetches: list[Fetch] = []
        live = [g for g in self.groups if not g.builder.is_empty()]
        live_ids = {g.id for g in live}
        renumber = {g.id: index for index, g in enumerate(live)}
        for group in live:
            aliased: list[bool] = []
            body = group.builder.render(aliased)
            used = group.builder.variables()
            variables = tuple(sorted(v for v in used if v in definitions))
            declared = [definitions[v] for v in variables]
            if group.origin is not None:
                declared.insert(0, "$representations: [_Any!]!")
                body = (
                    f"_entities(representations: $representations) {{ ... on {group.type_name} "
                    f"{{ {body} }} }}"
                )
                representation = field_set_selections(group.origin.key.selection)
                for requires in group.origin.requires:
                    representation += requires
                type_names = {group.type_name}
                if self._is_abstract(group.type_name):
                    type_names |= {
                        t.name
                        for t in self.schema.get_possible_types(
                            self.schema.type_map[group.type_name]  # type: ignore[arg-type]
                        )
                    }
                entity = EntityStep(tuple(sorted(type_names)), group.type_name, representation)
            else:
                entity = None
            kind = operation.kind if group.origin is None else "query"
            header = kind + (f"({', '.join(declared)})" if declared else "")
            depends = _live_dependencies(group, self.groups, live_ids)
            fetches.append(
                Fetch(
                    id=renumber[group.id],
                    subgraph=group.graph,
                    operation=f"{header} {{ {body} }}",
                    variables=variables,
                    path=group.path,
                    entity=entity,
                    depends_on=tuple(sorted(renumber[d] for d in depends)),
                    aliased=bool(aliased),
                    kind=kind,
                    run_if=group.run_if,
                )
            )
        return QueryPlan(operation.kind, tuple(fetches))


def _join_mutation_fields(fields: list[Field]) -> list[tuple[Field, tuple[Conditions, ...]]]:
    """One field per response key, with the conditions of which at least one must hold.

    Occurrences of a mutation field under unrelated conditions (``@include(if: $a)`` and
    ``@skip(if: $b)``) are one field for GraphQL, run once when either holds. No single
    subgraph selection says "either", so the joined field runs unconditionally with each
    occurrence's sub-selection under its own conditions, and its fetch only when one of the
    conditions holds.
    """
    by_key: dict[str, list[Field]] = {}
    for root_field in fields:
        by_key.setdefault(root_field.response_key, []).append(root_field)
    joined: list[tuple[Field, tuple[Conditions, ...]]] = []
    for occurrences in by_key.values():
        first = occurrences[0]
        if len(occurrences) == 1:
            joined.append((first, ()))
            continue
        selections = None
        if first.selections is not None:
            selections = tuple(
                Fragment(None, occurrence.conditions, occurrence.selections or ())
                for occurrence in occurrences
            )
        field = replace(first, conditions=(), selections=selections)
        joined.append((field, tuple(occurrence.conditions for occurrence in occurrences)))
    return joined


def _live_dependencies(group: _Group, groups: list[_Group], live: set[int]) -> set[int]:
    """Dependencies with empty (dropped) groups replaced by their own dependencies."""
    result: set[int] = set()
    pending = list(group.depends)
    seen: set[int] = set()
    while pending:
        dependency = pending.pop()
        if dependency in seen or dependency == group.id:
            continue
        seen.add(dependency)
        if dependency in live:
            result.add(dependency)
        else:
            pending.extend(groups[dependency].depends)
    return result


def _provided_tree(selections: tuple[Selection, ...]) -> dict[Any, Any]:
    tree: dict[Any, Any] = {}
    for selection in selections:
        if isinstance(selection, Field):
            child = _provided_tree(selection.selections) if selection.selections else {}
            tree[selection.name] = _merge_provided(tree.get(selection.name), child) or {}
        elif selection.type_condition:
            key = ("on", selection.type_condition)
            tree[key] = _merge_provided(tree.get(key), _provided_tree(selection.selections)) or {}
        else:
            tree = _merge_provided(tree, _provided_tree(selection.selections)) or {}
    return tree


def _merge_provided(first: Provided, second: Provided) -> Provided:
    if not first:
        return second
    if not second:
        return first
    merged = dict(first)
    for key, value in second.items():
        merged[key] = _merge_provided(merged.get(key), value) or {}
    return merged


def _is_provided(provided: Provided, parent: str, name: str) -> bool:
    if not provided:
        return False
    if name in provided:
        return True
    scoped = provided.get(("on", parent))
    return bool(scoped and name in scoped)


def _provided_child(provided: Provided, parent: str, name: str) -> Provided:
    if not provided:
        return None
    child = provided.get(name)
    scoped = provided.get(("on", parent))
    if scoped and name in scoped:
        child = _merge_provided(child, scoped[name])
    return child


def _alias_arguments(selections: tuple[Selection, ...]) -> tuple[Selection, ...]:
    """Give required fields with arguments their own response key.

    The client may select the same field with other arguments; a private alias keeps
    both values apart in the merged data.
    """
    result: list[Selection] = []
    for selection in selections:
        if isinstance(selection, Fragment):
            result.append(
                Fragment(
                    selection.type_condition,
                    selection.conditions,
                    _alias_arguments(selection.selections),
                )
            )
            continue
        children = _alias_arguments(selection.selections) if selection.selections else None
        if selection.arguments:
            digest = hashlib.sha1(selection.arguments.encode()).hexdigest()[:8]
            alias = f"{selection.name}__rq_{digest}"
            selection = replace(selection, alias=alias, response_key=alias)
        result.append(selection.with_selections(children))
    return tuple(result)


def _conflicting_requires(
    existing: list[tuple[Selection, ...]], new: tuple[Selection, ...]
) -> bool:
    """Whether two @requires would put different values under one representation key."""
    seen: dict[str, str] = {}
    for selections in existing:
        for selection in selections:
            if isinstance(selection, Field):
                seen[selection.name] = selection.arguments
    return any(
        isinstance(selection, Field)
        and selection.name in seen
        and seen[selection.name] != selection.arguments
        for selection in new
    )
