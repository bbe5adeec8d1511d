"""`[throttling]`: how requests are counted against the plans' rate limits.

The numbers themselves are per plan (`[plans.<name>] rate_limits`) or per client
(`[clients.<name>] rate_limits`); this section says how they are counted and where.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from gateway.plans import RateLimitList
from policies.rate_limits import Strategy


class ThrottlingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    strategy: Strategy = "sliding-window-counter"
    """`sliding-window-counter` (two counters per quota, the moving window approximated),
    `moving-window` (exact; a timestamp per request in the window, so its cost grows with the
    quota) or `fixed-window` (one counter; up to twice the quota across a window's edge).
    limits offers no GCRA."""
    storage: str = "cache"
    """Where the counters live: `cache` (wherever `[stores] cache` is: memory, or that Redis,
    shared by every process of the deployment), `memory` (this process only) or a redis://
    URL of its own. Keys are namespaced by `[stores] cache_namespace`."""
    when_storage_unreachable: Literal["count-in-process", "let-through"] = "count-in-process"
    """When the shared counters (Redis) do not answer: count in each process's memory until
    they do (each process holds callers to the quotas on its own), or let requests pass."""
    unauthenticated_failures: RateLimitList = ("30/minute",)
    """Failed authentications one source address may cause per window; past them its
    requests are answered 429 before their credentials are looked at."""

    @field_validator("storage")
    @classmethod
    def _known_storage(cls, value: str) -> str:
        if value not in ("cache", "memory") and not value.startswith(("redis://", "rediss://")):
            raise ValueError("must be 'cache', 'memory' or a redis:// URL")
        return value

    def storage_url(self, cache: str) -> str:
        return cache if self.storage == "cache" else self.storage
