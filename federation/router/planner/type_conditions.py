"""Dropping type conditions that no candidate subgraph can produce, before planning.

A value that several subgraphs can serve (a shareable field, taken directly or after an
entity key jump) may be fetched from any of them, and federation asks shareable fields to
resolve to the same data everywhere. When one of those subgraphs can never return a runtime
type at that position, that type cannot occur there, so its fragment is dropped from the
fetches; the client still gets the object, with null for the fields of the dropped fragment.
Apollo's planner (a type cast with no possible result in one option terminates the branch)
and Hive Router behave the same way, and clients rely on one answer whichever subgraph
serves the value.
"""

from __future__ import annotations

from collections.abc import Callable

from graphql import GraphQLInterfaceType, GraphQLSchema, GraphQLUnionType, get_named_type

from federation.router.operation import Field, Fragment, Selection, field_set_selections
from federation.router.supergraph import Supergraph

#: ``(graph, parent type, field name, provided) -> bool``: whether the graph resolves it.
CanResolve = Callable[[str, str, str, object], bool]
#: ``(graph, parent type, field name, provided) -> provided below the field``.
ChildProvided = Callable[[str, str, str, object], object]
#: Candidate subgraphs for a value, each with what @provides makes local there.
Candidates = dict[str, object]


def drop_unreachable_type_conditions(
    supergraph: Supergraph,
    root_type: str,
    selections: tuple[Selection, ...],
    can_resolve: CanResolve,
    child_provided: ChildProvided,
) -> tuple[Selection, ...]:
    """The selections without fragments some candidate subgraph can never match."""
    pruner = _Pruner(supergraph, can_resolve, child_provided)
    candidates: Candidates = dict.fromkeys(supergraph.graphs_of_type(root_type))
    return pruner.prune(root_type, selections, candidates)


class _Pruner:
    def __init__(
        self, supergraph: Supergraph, can_resolve: CanResolve, child_provided: ChildProvided
    ) -> None:
        self.supergraph = supergraph
        self.schema: GraphQLSchema = supergraph.schema
        self.can_resolve = can_resolve
        self.child_provided = child_provided

    def prune(
        self, parent: str, selections: tuple[Selection, ...], candidates: Candidates
    ) -> tuple[Selection, ...]:
        result: list[Selection] = []
        for selection in selections:
            if isinstance(selection, Fragment):
                condition = selection.type_condition
                target = condition or parent
                if target != parent and self._never_returned(parent, target, candidates):
                    continue
                inner = self.prune(target, selection.selections, candidates)
                result.append(Fragment(condition, selection.conditions, inner))
                continue
            if selection.selections is None or not candidates:
                result.append(selection)
                continue
            owner = self.schema.type_map.get(parent)
            field_def = getattr(owner, "fields", {}).get(selection.name)
            if field_def is None:
                result.append(selection)
                continue
            child_type = get_named_type(field_def.type).name
            below = self._advance(parent, selection.name, candidates)
            result.append(
                selection.with_selections(self.prune(child_type, selection.selections, below))
            )
        return tuple(result)

    def _never_returned(self, parent: str, condition: str, candidates: Candidates) -> bool:
        """Whether some candidate subgraph has no runtime type of ``parent`` matching."""
        parent_type = self.schema.type_map.get(parent)
        if not isinstance(parent_type, GraphQLInterfaceType | GraphQLUnionType):
            return False
        condition_type = self.schema.type_map.get(condition)
        if isinstance(condition_type, GraphQLInterfaceType | GraphQLUnionType):
            wanted = {t.name for t in self.schema.get_possible_types(condition_type)}
        else:
            wanted = {condition}
        for graph in candidates:
            if self.supergraph.type_in_graph(parent, graph) is None:
                continue
            if self.supergraph.is_interface_object(parent, graph):
                continue  # the subgraph does not know the implementations
            if not wanted & self.supergraph.possible_types_in_graph(parent, graph):
                return True
        return False

    def _advance(self, parent: str, name: str, candidates: Candidates) -> Candidates:
        """Subgraphs that may serve ``parent.name``: directly, or after an entity key jump."""
        below: Candidates = {}
        for graph, provided in candidates.items():
            if self.can_resolve(graph, parent, name, provided):
                below[graph] = self.child_provided(graph, parent, name, provided)
        for graph in self._entity_reach(parent, candidates):
            if graph not in below and self.can_resolve(graph, parent, name, None):
                below[graph] = self.child_provided(graph, parent, name, None)
        return below

    def _entity_reach(self, parent: str, candidates: Candidates) -> list[str]:
        """Other subgraphs an entity of ``parent`` can move to through resolvable keys."""
        reached = dict(candidates)
        pending = list(candidates)
        while pending:
            source = pending.pop()
            provided = reached[source]
            for target in self.supergraph.graphs_of_type(parent):
                if target in reached:
                    continue
                for key in self.supergraph.resolvable_keys(parent, target):
                    fields = field_set_selections(key.selection)
                    if all(
                        isinstance(s, Field) and self.can_resolve(source, parent, s.name, provided)
                        for s in fields
                    ):
                        reached[target] = None
                        pending.append(target)
                        break
        return [graph for graph in reached if graph not in candidates]
