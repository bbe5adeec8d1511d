"""Merging the directives that pass through to the supergraph (@tag, @requiresScopes, @cost…).

Each follows the strategy Apollo's composition uses, so routers that enforce them see the
same result: tags and repeatable directives are unioned, authorization requirements are
combined so that every subgraph's requirement still holds, cost takes the maximum.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from federation.composition.subgraph import AppliedDirective

REPEATABLE = frozenset({"tag"})
AUTHORIZATION = {"requiresScopes": "scopes", "policy": "policies"}


def merge_directives(
    applications: Iterable[tuple[AppliedDirective, ...]], repeatable: frozenset[str] = REPEATABLE
) -> tuple[AppliedDirective, ...]:
    """Merge per-subgraph directive lists, keeping first-seen order."""
    by_name: dict[str, list[AppliedDirective]] = {}
    for directives in applications:
        for directive in directives:
            by_name.setdefault(directive.name, []).append(directive)
    merged: list[AppliedDirective] = []
    for name, found in by_name.items():
        if name in repeatable:
            merged.extend(dict.fromkeys(found))
        elif name in AUTHORIZATION:
            merged.append(_merge_authorization(name, found))
        elif name == "cost":
            weights = [int(str(d.value("weight"))) for d in found]
            merged.append(AppliedDirective("cost", (("weight", str(max(weights))),)))
        elif name == "listSize":
            merged.append(_merge_list_size(found))
        else:
            merged.append(found[0])
    return tuple(merged)


def _merge_authorization(name: str, found: list[AppliedDirective]) -> AppliedDirective:
    argument = AUTHORIZATION[name]
    distinct = list(dict.fromkeys(found))
    if len(distinct) == 1:
        return distinct[0]
    combined: list[list[str]] = [[]]
    for directive in distinct:
        alternatives = directive.value(argument) or []
        combined = [
            sorted(set(conjunction) | set(alternative))  # type: ignore[arg-type]
            for conjunction in combined
            for alternative in alternatives  # type: ignore[attr-defined]
        ]
    unique = []
    for conjunction in combined:
        if conjunction not in unique:
            unique.append(conjunction)
    minimal = [c for c in unique if not any(set(o) < set(c) for o in unique)]
    return AppliedDirective(name, ((argument, _print_value(minimal)),))


def _merge_list_size(found: list[AppliedDirective]) -> AppliedDirective:
    distinct = list(dict.fromkeys(found))
    if len(distinct) == 1:
        return distinct[0]
    sizes = [d.value("assumedSize") for d in distinct if d.value("assumedSize") is not None]
    arguments: list[tuple[str, str]] = []
    if sizes:
        arguments.append(("assumedSize", str(max(int(str(s)) for s in sizes))))
    for list_argument in ("slicingArguments", "sizedFields"):
        values: list[str] = []
        for directive in distinct:
            for item in directive.value(list_argument) or []:  # type: ignore[attr-defined]
                if item not in values:
                    values.append(item)
        if values:
            arguments.append((list_argument, _print_value(values)))
    require = all(d.value("requireOneSlicingArgument") is not False for d in distinct)
    arguments.append(("requireOneSlicingArgument", "true" if require else "false"))
    return AppliedDirective("listSize", tuple(arguments))


def _print_value(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_print_value(item) for item in value) + "]"
    return json.dumps(value)
