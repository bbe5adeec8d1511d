"""`[persisted_queries]`: automatic persisted queries and trusted documents.

Automatic persisted queries (Apollo's APQ protocol) keep documents by their SHA-256 in the
cache (`[stores] cache`: this process's memory, or Redis shared by every process). Trusted
documents come from manifests (Apollo's persisted query list or Relay's JSON) read at start;
a client with `registered_operations_only = true` may run those only.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PersistedQueriesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    apq: bool = True
    """Accept automatic persisted queries (register by hash, then send the hash only)."""
    apq_ttl_s: int = Field(86_400, ge=60, le=30 * 86_400)
    """How long a registered document is kept after it was last registered."""
    apq_max_entries: int = Field(10_000, ge=1, le=1_000_000)
    """Documents kept in memory (the memory cache only; Redis bounds itself by the TTL and
    its own `maxmemory`). Each is at most `[limits] max_document_length` characters."""
    manifests: tuple[str, ...] = Field((), max_length=100)
    """Paths of trusted document manifests (Apollo or Relay format), read at start: a bad
    one stops the start, naming the file and the entry."""
