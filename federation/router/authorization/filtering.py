"""Removing what a caller may not see from a normalised operation, before it is planned.

Two walks over an operation, both linear in its document however often fragments spread
(each shared selection tuple is visited once per parent type):

- ``access_of`` says which facts the operation's rules depend on (authentication, which
  scopes, which policies). The filtered operation is a function of those facts alone, so it
  is cached under them, and a caller who holds them all runs the operation as written.
- ``filter_operation`` splits the operation in two: the selections to plan (unauthorized
  fields and fragments gone, a field whose whole sub-selection went is gone too, so it
  causes no fetch) and the selections to project, where removed fields are kept but
  ``withheld``: null in the answer, with GraphQL's null propagation, whatever a subgraph
  returned (a key field fetched for an entity join is not shown). Each removed field or
  fragment gives one path for an ``UNAUTHORIZED_FIELD_OR_TYPE`` error, as Apollo Router
  reports it: response keys, ``@`` for the items of a list, ``... on Type`` for a fragment.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from federation.router.authorization.rules import (
    AUTHENTICATED,
    SCOPES,
    AccessRules,
    Grant,
    Requirement,
    conjunction,
    satisfied,
)
from federation.router.operation import Conditions, Field, Fragment, Operation, Selection

MAX_REPORTED_PATHS = 100
"""Unauthorized paths reported per operation at most: a fragment spread many times could
otherwise name an exponential number of them."""

UNAUTHORIZED_CODE = "UNAUTHORIZED_FIELD_OR_TYPE"
UNAUTHORIZED_MESSAGE = "Unauthorized field or type"

_INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})
_LIST_ITEMS = "@"


@dataclass(frozen=True, slots=True)
class OperationAccess:
    """The facts an operation's rules ask about: whether the caller is authenticated, which
    of its scopes, which policies."""

    authentication: bool
    scopes: frozenset[str]
    policies: frozenset[str]

    def grant(self, authenticated: bool, scopes: frozenset[str], policies: frozenset[str]) -> Grant:
        """The caller's grant reduced to these facts: the key the filtered operation has."""
        return Grant(
            authenticated and self.authentication, scopes & self.scopes, policies & self.policies
        )

    def grants_everything(self, grant: Grant) -> bool:
        return (
            (grant.authenticated or not self.authentication)
            and grant.scopes == self.scopes
            and grant.policies == self.policies
        )


@dataclass(frozen=True, slots=True)
class RemovedPath:
    """Where something was removed, and the ``@skip``/``@include`` conditions on the way:
    a removal the request's variables skip anyway is not reported."""

    path: tuple[str, ...]
    conditions: Conditions

    def error(self) -> dict[str, Any]:
        return {
            "message": UNAUTHORIZED_MESSAGE,
            "path": list(self.path),
            "extensions": {"code": UNAUTHORIZED_CODE},
        }


@dataclass(frozen=True, slots=True)
class FilteredOperation:
    """What authorization left of an operation for one grant."""

    planned: Operation
    projected: tuple[Selection, ...]
    removed: tuple[RemovedPath, ...]

    @property
    def empty(self) -> bool:
        """Nothing is left to run: every root field was removed."""
        return next(_fields_in(self.planned.selections), None) is None


def unauthorized_errors(
    removed: tuple[RemovedPath, ...], variables: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """One error per removed path the request's variables do not skip."""
    return [
        path.error()
        for path in removed
        if all(bool(variables.get(name)) == expected for name, expected in path.conditions)
    ]


def access_of(operation: Operation, rules: AccessRules) -> OperationAccess | None:
    """The facts the operation's rules depend on; None when no rule applies to it."""
    requirements = _Requirements(rules, operation.root_type)
    found: dict[Any, None] = {}
    seen: set[tuple[int, str]] = set()
    pending: list[tuple[tuple[Selection, ...], str]] = [(operation.selections, operation.root_type)]
    while pending:
        selections, parent = pending.pop()
        if (id(selections), parent) in seen:
            continue
        seen.add((id(selections), parent))
        for selection in selections:
            if isinstance(selection, Field):
                found.update(dict.fromkeys(requirements.of_field(parent, selection)))
                if selection.selections is not None:
                    child = rules.return_type(parent, selection.name)
                    if child is not None:
                        pending.append((selection.selections, child))
            else:
                found.update(dict.fromkeys(requirements.of_fragment(parent, selection)))
                pending.append((selection.selections, selection.type_condition or parent))
    if not found:
        return None
    scopes: set[str] = set()
    policies: set[str] = set()
    for rule in found:
        for alternative in rule.alternatives:
            (scopes if rule.kind == SCOPES else policies).update(alternative)
    authentication = any(rule.kind == AUTHENTICATED for rule in found)
    return OperationAccess(authentication, frozenset(scopes), frozenset(policies))


def filter_operation(operation: Operation, rules: AccessRules, grant: Grant) -> FilteredOperation:
    """The operation without what ``grant`` does not allow (see the module's docstring)."""
    walk = _Filter(_Requirements(rules, operation.root_type), rules, grant)
    result = walk.selections(operation.selections, operation.root_type)
    return FilteredOperation(
        planned=replace(operation, selections=result.planned),
        projected=result.projected,
        removed=tuple(dict.fromkeys(result.removed)),  # a fragment spread twice: once
    )


class _Requirements:
    """What a field or fragment needs, remembered per (parent type, name)."""

    def __init__(self, rules: AccessRules, root_type: str) -> None:
        self.rules = rules
        self.root_type = root_type
        self._fields: dict[tuple[str, str, bool], Requirement] = {}
        self._fragments: dict[tuple[str, bool], Requirement] = {}

    def of_field(self, parent: str, field: Field) -> Requirement:
        """The field's own rules (an interface field: its implementations' too), those of
        the type it returns (an abstract one read directly: every possible type's), and at
        the root the root type's."""
        name = field.name
        if name == "__typename" or (name in _INTROSPECTION_ROOTS and parent == self.root_type):
            return ()
        reads = _reads_fields(field.selections)
        key = (parent, name, reads)
        known = self._fields.get(key)
        if known is None:
            rules = self.rules
            returned = rules.return_type(parent, name)
            if returned is None:
                known = ()
            else:
                known = conjunction(
                    rules.type_requirement(self.root_type) if parent == self.root_type else (),
                    rules.field_requirement(parent, name),
                    self._reading(returned, reads),
                )
            self._fields[key] = known
        return known

    def of_fragment(self, parent: str, fragment: Fragment) -> Requirement:
        condition = fragment.type_condition
        if condition is None:
            return ()
        reads = _reads_fields(fragment.selections)
        key = (condition, reads)
        known = self._fragments.get(key)
        if known is None:
            known = self._fragments[key] = self._reading(condition, reads)
        return known

    def _reading(self, type_name: str, reads_fields: bool) -> Requirement:
        rules = self.rules
        if reads_fields and rules.is_abstract(type_name):
            return rules.reading_requirement(type_name)
        return rules.type_requirement(type_name)


@dataclass(frozen=True, slots=True)
class _Filtered:
    planned: tuple[Selection, ...]
    projected: tuple[Selection, ...]
    removed: tuple[RemovedPath, ...]
    changed: bool


class _Filter:
    def __init__(self, requirements: _Requirements, rules: AccessRules, grant: Grant) -> None:
        self.requirements = requirements
        self.rules = rules
        self.grant = grant
        self._done: dict[tuple[int, str], tuple[tuple[Selection, ...], _Filtered]] = {}
        self._withheld: dict[int, tuple[tuple[Selection, ...], tuple[Selection, ...]]] = {}

    def selections(self, selections: tuple[Selection, ...], parent: str) -> _Filtered:
        key = (id(selections), parent)
        known = self._done.get(key)
        if known is None:
            # The input is kept with its result so that its id is never reused meanwhile.
            known = self._done[key] = (selections, self._filter(selections, parent))
        return known[1]

    def _filter(self, selections: tuple[Selection, ...], parent: str) -> _Filtered:
        planned: list[Selection] = []
        projected: list[Selection] = []
        removed: list[RemovedPath] = []
        changed = False
        for selection in selections:
            if isinstance(selection, Field):
                requirement = self.requirements.of_field(parent, selection)
                child_type = self.rules.return_type(parent, selection.name)
                where = (selection.response_key,)
                if child_type is not None and self.rules.is_list(parent, selection.name):
                    where += (_LIST_ITEMS,)
                if not satisfied(requirement, self.grant):
                    changed = True
                    removed.append(RemovedPath(where, selection.conditions))
                    projected.append(replace(selection, selections=None, withheld=True))
                    continue
                if selection.selections is None or child_type is None:
                    planned.append(selection)
                    projected.append(selection)
                    continue
                inner = self.selections(selection.selections, child_type)
                removed.extend(_under(where, selection.conditions, inner.removed))
                if not inner.changed:
                    planned.append(selection)
                    projected.append(selection)
                    continue
                changed = True
                if inner.planned:
                    planned.append(selection.with_selections(inner.planned))
                projected.append(selection.with_selections(inner.projected))
                continue
            requirement = self.requirements.of_fragment(parent, selection)
            condition = selection.type_condition
            if not satisfied(requirement, self.grant):
                changed = True
                removed.append(RemovedPath((f"... on {condition}",), selection.conditions))
                projected.append(replace(selection, selections=self.withhold(selection.selections)))
                continue
            inner = self.selections(selection.selections, condition or parent)
            removed.extend(_under((), selection.conditions, inner.removed))
            if not inner.changed:
                planned.append(selection)
                projected.append(selection)
                continue
            changed = True
            if inner.planned:
                planned.append(replace(selection, selections=inner.planned))
            projected.append(replace(selection, selections=inner.projected))
        if not changed:
            return _Filtered(selections, selections, tuple(removed[:MAX_REPORTED_PATHS]), False)
        return _Filtered(
            tuple(planned), tuple(projected), tuple(removed[:MAX_REPORTED_PATHS]), True
        )

    def withhold(self, selections: tuple[Selection, ...]) -> tuple[Selection, ...]:
        """Every field below withheld: a removed fragment's fields are null, not absent."""
        known = self._withheld.get(id(selections))
        if known is None:
            withheld = tuple(
                replace(s, selections=None, withheld=True)
                if isinstance(s, Field)
                else replace(s, selections=self.withhold(s.selections))
                for s in selections
            )
            known = self._withheld[id(selections)] = (selections, withheld)
        return known[1]


def _under(
    prefix: tuple[str, ...], conditions: Conditions, removed: tuple[RemovedPath, ...]
) -> list[RemovedPath]:
    return [
        RemovedPath(prefix + inner.path, conditions + inner.conditions)
        for inner in removed[:MAX_REPORTED_PATHS]
    ]


def _reads_fields(selections: tuple[Selection, ...] | None) -> bool:
    """Whether a selection reads fields of its own parent type, not only ``__typename`` or
    through fragments on a named type."""
    for selection in selections or ():
        if isinstance(selection, Field):
            if selection.name != "__typename":
                return True
        elif selection.type_condition is None and _reads_fields(selection.selections):
            return True
    return False


def _fields_in(selections: tuple[Selection, ...]) -> Iterator[Field]:
    for selection in selections:
        if isinstance(selection, Field):
            yield selection
        else:
            yield from _fields_in(selection.selections)
