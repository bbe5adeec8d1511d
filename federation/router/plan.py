"""Query plans as data: frozen, printable as text and JSON, cacheable, comparable in tests.

A plan is a set of fetches forming a dependency graph. A fetch runs once every fetch it
depends on has merged its data, so independent fetches run concurrently and a chain of
entity fetches runs in order. Root fetches write at the response root; entity fetches read
the objects found at ``path`` (lists are walked), send their representations to the
subgraph's ``_entities`` field and merge the answers back into those same objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from federation.router.operation import Conditions, Field, Fragment, Selection


@dataclass(frozen=True)
class EntityStep:
    """What an entity fetch reads from the objects it extends."""

    type_names: tuple[str, ...]
    representation_typename: str | None
    representation: tuple[Selection, ...]


@dataclass(frozen=True)
class Fetch:
    """One call to one subgraph."""

    id: int
    subgraph: str
    operation: str
    variables: tuple[str, ...]
    path: tuple[str, ...]
    entity: EntityStep | None
    depends_on: tuple[int, ...]
    #: Whether the operation aliases fields (``key__fa_...``) that must be renamed back:
    #: two type-conditioned selections of one field may disagree on type in a subgraph,
    #: which GraphQL forbids in one selection set.
    aliased: bool = False
    #: ``query`` or ``mutation`` (entity fetches are queries, even within a mutation).
    kind: str = "query"
    #: Run only when one of these condition sets holds (empty: always); set on the fetch of
    #: a mutation field selected under unrelated @skip/@include conditions.
    run_if: tuple[Conditions, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "id": self.id,
            "subgraph": self.subgraph,
            "path": list(self.path),
            "dependsOn": list(self.depends_on),
            "variables": list(self.variables),
            "operation": self.operation,
        }
        if self.run_if:
            result["runIf"] = [[list(condition) for condition in one] for one in self.run_if]
        if self.entity is not None:
            result["entity"] = {
                "types": list(self.entity.type_names),
                "representationTypename": self.entity.representation_typename,
                "representation": print_selections(self.entity.representation),
            }
        return result


@dataclass(frozen=True)
class QueryPlan:
    """The fetches for one operation; ``kind`` is query, mutation or subscription."""

    kind: str
    fetches: tuple[Fetch, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "fetches": [fetch.to_dict() for fetch in self.fetches]}

    @cached_property
    def schedule(self) -> Schedule:
        """The dependency graph turned around, computed once per plan for the executor."""
        dependents: dict[int, list[int]] = {fetch.id: [] for fetch in self.fetches}
        for fetch in self.fetches:
            for dependency in fetch.depends_on:
                dependents[dependency].append(fetch.id)
        return Schedule(
            roots=tuple(fetch.id for fetch in self.fetches if not fetch.depends_on),
            dependents={key: tuple(value) for key, value in dependents.items()},
            waiting_for={fetch.id: len(set(fetch.depends_on)) for fetch in self.fetches},
            by_id={fetch.id: fetch for fetch in self.fetches},
        )


@dataclass(frozen=True)
class Schedule:
    """Which fetches start first and which each finished fetch may release."""

    roots: tuple[int, ...]
    dependents: dict[int, tuple[int, ...]]
    #: How many fetches each one waits for; a run counts down its own copy.
    waiting_for: dict[int, int]
    by_id: dict[int, Fetch]


def print_selections(selections: tuple[Selection, ...]) -> str:
    """A compact one-line rendering of selections, as in a GraphQL document."""
    parts: list[str] = []
    for selection in selections:
        if isinstance(selection, Field):
            text = (f"{selection.alias}: " if selection.alias else "") + selection.name
            text += selection.arguments
            if selection.selections is not None:
                text += " { " + print_selections(selection.selections) + " }"
            parts.append(text)
        elif isinstance(selection, Fragment):
            on = f" on {selection.type_condition}" if selection.type_condition else ""
            parts.append(f"...{on} {{ " + print_selections(selection.selections) + " }")
    return " ".join(parts)


def _print_conditions(conditions: Conditions) -> str:
    return " and ".join(("" if expected else "not ") + "$" + name for name, expected in conditions)


def print_plan(plan: QueryPlan) -> str:
    """Human-readable plan, stable enough for snapshot tests."""
    lines = [f"QueryPlan ({plan.kind}) {{"]
    for fetch in plan.fetches:
        head = f"  Fetch #{fetch.id} -> {fetch.subgraph}"
        if fetch.path:
            head += f" at {'.'.join(fetch.path)}"
        if fetch.depends_on:
            head += f" after {', '.join('#' + str(i) for i in fetch.depends_on)}"
        if fetch.run_if:
            head += " if " + " or ".join(_print_conditions(one) for one in fetch.run_if)
        lines.append(head + " {")
        if fetch.entity is not None:
            typename = fetch.entity.representation_typename
            lines.append(
                f"    entities of {' | '.join(fetch.entity.type_names)}"
                + (f" as {typename}" if typename else "")
                + ": { "
                + print_selections(fetch.entity.representation)
                + " }"
            )
        for line in fetch.operation.splitlines():
            lines.append("    " + line)
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines)
