"""What the embedding app decides about caching: per request, who may share an answer; per
router, how long answers live, how long a stale one may stand in for a failure, how large an
entry may be."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

SUBGRAPH_FAILURES = frozenset(
    {
        "SUBGRAPH_UNAVAILABLE",
        "SUBGRAPH_TIMEOUT",
        "SUBGRAPH_INVALID_RESPONSE",
        "SUBGRAPH_REQUEST_FAILED",
    }
)
"""Error codes that mean a subgraph could not answer (rather than that the caller erred)."""


@dataclass(frozen=True, slots=True)
class CachePartition:
    """Who may share a cached answer, decided by the app per request.

    ``shared`` partitions `PUBLIC` answers (for example the tenant and the scopes: what
    changes the answer for everyone alike), ``private`` the `PRIVATE` ones (the same plus the
    caller). Both are opaque to the router; an answer is never found under another partition.
    """

    shared: str
    private: str

    def for_scope(self, private: bool) -> str:
        return self.private if private else self.shared


@dataclass(frozen=True, slots=True)
class CacheSettings:
    """``default_max_age``: of root and composite fields without a hint (Apollo's
    ``defaultMaxAge``); ``type_max_ages``: per type, instead of its hint's `maxAge`;
    ``stale_if_error_s``: how long past its age an answer is kept to stand in, marked stale,
    for one that failed with a code in ``failure_codes``; ``max_entry_bytes``: a larger
    answer or entity is served but not kept; ``entities``: `_entities` answers are cached per
    entity too; ``vary``: request headers that decide the partition (`Vary` on GET answers).
    """

    default_max_age: int = 0
    type_max_ages: Mapping[str, int] = field(default_factory=dict)
    stale_if_error_s: int = 0
    max_entry_bytes: int = 262_144
    failure_codes: frozenset[str] = SUBGRAPH_FAILURES
    entities: bool = True
    vary: tuple[str, ...] = ()
