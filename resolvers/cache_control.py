"""Cache hints and cache tags of the built-in subgraphs.

`@cacheControl` (Apollo Server's directive, composed into the supergraph through
`@composeDirective`) says how long the router may reuse an answer: short for what moves all
day (stock, shipments, orders), longer for what the ERP settles once (invoices), and
`inheritMaxAge` on value types, which are as fresh as the object holding them.

A resolver announces the entities it answers (`announce`); `CacheTags` puts them in the
answer's `extensions.apolloCacheTags`, where the router reads them to tag cached answers, so
a change to one purges every answer holding it (`process_apis.cache_tags`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextvars import ContextVar
from enum import Enum

import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.schema_directive import Location

from federation.router.caching import ROOT_TAGS

SPECIFICATION = "https://specs.logistics-gateway.dev/cacheControl/v0.1"
"""The name the directive is linked under: any URL whose last path part is `cacheControl`
with a version is read as Apollo's `@cacheControl` by the router."""


@strawberry.enum(name="CacheControlScope")
class CacheControlScope(Enum):
    PUBLIC = "PUBLIC"
    PRIVATE = "PRIVATE"


@strawberry.federation.schema_directive(
    locations=[Location.FIELD_DEFINITION, Location.OBJECT, Location.INTERFACE, Location.UNION],
    name="cacheControl",
    compose=True,
    import_url=SPECIFICATION,
)
class CacheControl:
    max_age: int | None = strawberry.UNSET
    scope: CacheControlScope | None = strawberry.UNSET
    inherit_max_age: bool | None = strawberry.UNSET


INHERIT = CacheControl(inherit_max_age=True)
"""For value types: as fresh as the object that holds them."""

FRESHNESS = CacheControl(max_age=10)
"""For `asOf` and `stale`: they move when a source is heard from (or stays silent), which
purges nothing, so an answer holding them is reused for seconds only."""

_announced: ContextVar[set[str] | None] = ContextVar("announced_cache_tags", default=None)


def announce(*tags: str) -> None:
    """Say that the answer being computed holds these entities (no-op outside one)."""
    collected = _announced.get()
    if collected is not None:
        collected.update(tags)


class CacheTags(SchemaExtension):
    """Collects what the resolvers of one execution announce into its extensions."""

    def on_execute(self) -> Iterator[None]:
        self._tags: set[str] = set()
        token = _announced.set(self._tags)
        try:
            yield
        finally:
            _announced.reset(token)

    def get_results(self) -> dict[str, object]:
        tags = getattr(self, "_tags", None)
        return {ROOT_TAGS: sorted(tags)} if tags else {}
