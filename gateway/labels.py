"""Label values from what callers send, bounded: a metric's series must not grow with them.

Prometheus keeps one series per distinct set of label values, so a label taken from a request
(an operation name, a cache key's kind) is a way to exhaust the server's memory unless it is
bounded: a value must look like what it claims to be, and only the first `cap` distinct
values get a series of their own; later ones are counted together as `other`.
"""

from __future__ import annotations

import re

OTHER = "other"
INVALID = "invalid"
ANONYMOUS = "anonymous"
_GRAPHQL_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")
"""A GraphQL name (the grammar's), at most 100 characters."""


class BoundedLabels:
    """The first `cap` distinct values pass as they are; the rest become `other`. Owns the
    set of values seen, so it is a class; one per label of one app."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._seen: set[str] = set()

    def __call__(self, value: str, *, new: bool = True) -> str:
        """`value` if seen before, or new and under the cap (`new=False`: seen only)."""
        if value in self._seen:
            return value
        if not new or len(self._seen) >= self.cap:
            return OTHER
        self._seen.add(value)
        return value


def operation_label(name: str | None, bounded: BoundedLabels, *, executed: bool) -> str:
    """`anonymous`, `invalid` for what no GraphQL document can name, else the bounded name.
    Only an operation that was executed takes a new place: names in refused requests cost
    nothing to invent and would crowd out the real ones."""
    if name is None or name == "":
        return ANONYMOUS
    if not _GRAPHQL_NAME.fullmatch(name):
        return INVALID
    return bounded(name, new=executed)
