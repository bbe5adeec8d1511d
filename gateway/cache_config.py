"""`[cache]`: response and entity caching (where entries live is `[stores] cache`).

Off by default: an answer served from the cache is as old as its `@cacheControl` hints allow,
which the operator chooses to accept. Per-type ages replace the schema's hint for that type
(`types = { Invoice = 600 }`), and a name the supergraph lacks stops the start, naming it.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from federation.router.caching import SUBGRAPH_FAILURES, CacheSettings

MaxAge = Annotated[int, Field(ge=0, le=604_800)]
TYPE_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]{0,99}$")

BACKEND_FAILURES = frozenset({"BACKEND_UNAVAILABLE", "BACKEND_TIMEOUT", "BACKEND_THROTTLED"})
"""What the built-in subgraphs answer when a backend could not: a stale answer may stand in."""

PARTITION_HEADERS = ("Authorization", "X-API-Key")
"""The credentials decide the partition: a shared cache in front must keep answers apart."""


class CacheConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    default_max_age_s: MaxAge = 0
    """Of root fields and object fields without a hint (Apollo's defaultMaxAge): 0 caches
    only what the schema hints."""
    types: dict[str, MaxAge] = Field(default_factory=dict)
    """Per type name, seconds instead of its hint's maxAge."""
    stale_if_error_s: MaxAge = 300
    """How long past its age an answer may stand in, marked stale, for a failed one."""
    max_entry_bytes: int = Field(262_144, ge=1_024, le=16_777_216)
    """A larger answer (or entity) is served but not kept."""
    entities: bool = True
    """Cache `_entities` answers entity by entity, shared by every query that needs them."""
    max_memory_bytes: int = Field(268_435_456, ge=1_048_576, le=68_719_476_736)
    """What a process's memory cache holds at most (the oldest entries go first); on Redis,
    Redis's own `maxmemory` bounds it."""

    @field_validator("types")
    @classmethod
    def _type_names(cls, value: dict[str, int]) -> dict[str, int]:
        for name in value:
            if not TYPE_NAME.match(name):
                raise ValueError(f"{name!r} is not a GraphQL type name")
        return value

    def settings(self) -> CacheSettings:
        return CacheSettings(
            default_max_age=self.default_max_age_s,
            type_max_ages=dict(self.types),
            stale_if_error_s=self.stale_if_error_s,
            max_entry_bytes=self.max_entry_bytes,
            failure_codes=SUBGRAPH_FAILURES | BACKEND_FAILURES,
            entities=self.entities,
            vary=PARTITION_HEADERS,
        )
