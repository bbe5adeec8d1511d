"""A pragmatic satisfiability check: can the router reach every field it exposes?

From each subgraph's root fields we walk the types a subgraph can return and the entity
jumps the router can make (another subgraph's resolvable @key whose fields the current
subgraph knows). A field of a reached type that no subgraph reachable from there resolves
is reported, with the path that reaches it.
"""

from __future__ import annotations

from collections import deque

from federation.composition.merged_supergraph import MergedSupergraph
from federation.composition.subgraph import Subgraph, field_set_coordinates

State = tuple[str, str]  # (type name, subgraph name)


def check_satisfiability(subgraphs: list[Subgraph], supergraph: MergedSupergraph) -> list[str]:
    """Messages for fields some query path reaches but cannot resolve."""
    by_name = {s.name: s for s in subgraphs}
    paths: dict[State, str] = {}
    queue: deque[State] = deque()
    for subgraph in subgraphs:
        for root in subgraph.root_types:
            definition = subgraph.type(root)
            if definition is not None and definition.fields:
                state = (root, subgraph.name)
                paths[state] = root
                queue.append(state)
    while queue:
        state = queue.popleft()
        type_name, subgraph_name = state
        subgraph = by_name[subgraph_name]
        for next_state, step in _moves(subgraph, type_name, subgraphs):
            if next_state not in paths:
                paths[next_state] = paths[state] + step
                queue.append(next_state)
    errors: list[str] = []
    reported: set[tuple[str, str]] = set()
    for (type_name, subgraph_name), path in paths.items():
        merged = supergraph.type(type_name)
        if merged is None or merged.kind != "OBJECT" or type_name in supergraph.root_types:
            continue
        reachable = _entity_closure(type_name, subgraph_name, by_name, subgraphs)
        for field in merged.fields:
            if (type_name, field.name) in reported:
                continue
            if any(_resolves(by_name[name], type_name, field.name) for name in reachable):
                continue
            if all(j.graph is None for j in field.join_fields) and field.join_fields:
                continue  # provided through an @interfaceObject, resolved at the interface
            reported.add((type_name, field.name))
            owners = [s.name for s in subgraphs if _resolves(s, type_name, field.name)]
            errors.append(
                f'Field "{type_name}.{field.name}" cannot be resolved when "{type_name}" is'
                f' reached from subgraph "{subgraph_name}" (path: {path}): it is resolved only'
                f' by {_phrase(owners)}, and no @key of "{type_name}" in those subgraphs is'
                f' resolvable from subgraph "{subgraph_name}"'
            )
    return errors


def _phrase(names: list[str]) -> str:
    if not names:
        return "no subgraph"
    quoted = ", ".join(f'"{n}"' for n in names)
    return ("subgraph " if len(names) == 1 else "subgraphs ") + quoted


def _resolves(subgraph: Subgraph, type_name: str, field_name: str) -> bool:
    definition = subgraph.type(type_name)
    if definition is None:
        return False
    field = definition.field(field_name)
    return field is not None and not field.external


def _can_jump(source: Subgraph, target: Subgraph, type_name: str) -> bool:
    """Whether the router, holding a ``type_name`` from ``source``, can fetch it from ``target``."""
    definition = target.type(type_name)
    origin = source.type(type_name)
    if definition is None or origin is None:
        return False
    for key in definition.keys:
        if not key.resolvable:
            continue
        needed = field_set_coordinates(target.types, type_name, key.fields)
        top_level = {field for owner, field in needed if owner == type_name}
        if all(origin.field(name) is not None for name in top_level):
            return True
    return False


def _entity_closure(
    type_name: str, subgraph_name: str, by_name: dict[str, Subgraph], subgraphs: list[Subgraph]
) -> set[str]:
    seen = {subgraph_name}
    pending = [subgraph_name]
    while pending:
        current = by_name[pending.pop()]
        for other in subgraphs:
            if other.name not in seen and _can_jump(current, other, type_name):
                seen.add(other.name)
                pending.append(other.name)
    return seen


def _moves(subgraph: Subgraph, type_name: str, subgraphs: list[Subgraph]):
    definition = subgraph.type(type_name)
    if definition is None:
        return
    for other in subgraphs:
        if other.name != subgraph.name and _can_jump(subgraph, other, type_name):
            yield (type_name, other.name), f" -> {other.name}"
    if definition.kind in ("INTERFACE", "UNION"):
        for possible in subgraph.possible_types(type_name):
            yield (possible, subgraph.name), f" ... on {possible}"
    for field in definition.fields:
        if field.external:
            continue
        target = field.type.named_type
        if subgraph.type(target) is not None and subgraph.type(target).is_composite:  # type: ignore[union-attr]
            yield (target, subgraph.name), f".{field.name}"
