"""Tenant isolation for reads: another tenant's record is indistinguishable from no record.

Answering "forbidden" would confirm that an order number exists; so a record owned by another
tenant is reported exactly as a missing one.
"""

from __future__ import annotations


class NotFound(Exception):
    """No record the caller may see; `public_message` is safe to show."""

    def __init__(self, kind: str, key: str) -> None:
        self.public_message = f"no {kind} {key}"
        super().__init__(self.public_message)


def require_visible(owner_tenant: str, caller_tenant: str, kind: str, key: str) -> None:
    if not owner_tenant or owner_tenant != caller_tenant:
        raise NotFound(kind, key)
