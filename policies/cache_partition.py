"""Who may share a cached answer: never one tenant's answer for another.

An answer depends on the tenant the caller acts for (every record is the tenant's), on its
scopes (what it may see and do) and on the warehouses it may act in; `PUBLIC` answers are
shared by every caller alike in all three, `PRIVATE` ones are kept per client besides. The
parts are joined with a separator no configured name contains, so two different principals
never spell the same partition.
"""

from __future__ import annotations

from federation.router.caching import CachePartition
from policies.principal import Principal

_SEPARATOR = "\x1f"


def cache_partition(principal: Principal) -> CachePartition:
    shared = _SEPARATOR.join(
        (
            "tenant",
            principal.tenant_id,
            "scopes",
            *sorted(principal.scopes),
            "warehouses",
            *sorted(principal.warehouses),
        )
    )
    return CachePartition(shared, shared + _SEPARATOR + "client" + _SEPARATOR + principal.client_id)
