"""What one request's execution needs of the caches, and what it gathers for them: the tags
of every entity its answer holds."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from federation.router.caching.entities import EntityCache
from federation.router.caching.hints import CachePolicy
from federation.router.caching.settings import CachePartition

KeyFields = Callable[[str, str], tuple[tuple[str, ...], ...]]
"""(type name, subgraph) → the top-level fields of each of the type's keys there."""


@dataclass(slots=True)
class RequestCaching:
    partition: CachePartition
    started_at: float
    key_fields: KeyFields
    entities: EntityCache | None = None
    fetch_policies: Mapping[int, CachePolicy] = field(default_factory=dict)
    tags: set[str] = field(default_factory=set)
