"""Response and entity caching for the router: hints, partitions, stores, invalidation tags.

The router knows nothing of who its callers are: the embedding app gives each request a
``CachePartition`` (through ``RequestOptions.cache``) and the router a ``Caching`` (a
``TaggedStore`` and its ``CacheSettings``). Entries are tagged with the entities they hold
(``entity_tag``), so the app can purge them when those entities change.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from federation.router.caching.hints import (
    PRIVATE,
    PUBLIC,
    UNCACHEABLE,
    CacheHint,
    CacheHints,
    CachePolicy,
)
from federation.router.caching.settings import SUBGRAPH_FAILURES, CachePartition, CacheSettings
from federation.router.caching.store import TaggedStore
from federation.router.caching.tags import ENTITY_TAGS, ROOT_TAGS, entity_tag


@dataclass(frozen=True, slots=True)
class Caching:
    """A router's caches: where entries live and how they are kept."""

    store: TaggedStore
    settings: CacheSettings = field(default_factory=CacheSettings)


__all__ = [
    "ENTITY_TAGS",
    "PRIVATE",
    "PUBLIC",
    "ROOT_TAGS",
    "SUBGRAPH_FAILURES",
    "UNCACHEABLE",
    "CacheHint",
    "CacheHints",
    "CachePartition",
    "CachePolicy",
    "CacheSettings",
    "Caching",
    "TaggedStore",
    "entity_tag",
]
