"""Running a command once per caller's idempotency key.

Every write reaches a backend that deduplicates on its own idempotency key (the ERP's and
the WMS's writes do). `BackendKeyed` derives that key from the caller's, the same for every
retry of one command in any gateway process and different for every caller, so a retry (even
after a timeout the backend had in fact applied) gets the backend's first answer and changes
nothing twice. A store of idempotency records can stand in front of it (the same `Once`
interface), answering retries without reaching the backend at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who gives a command, as plain values: the tenant and client it is scoped to and the
    warehouses it may act in (none for a portal)."""

    tenant_id: str
    client_id: str
    warehouses: frozenset[str] = field(default_factory=frozenset)

    @property
    def scope(self) -> str:
        return f"{self.tenant_id}/{self.client_id}"


class Once(Protocol):
    async def run(
        self,
        caller: Caller,
        operation: str,
        idempotency_key: str,
        arguments: Mapping[str, Any],
        command: Callable[[str], Awaitable[T]],
    ) -> T:
        """`command(backend_key)`'s outcome, run at most once in effect per key."""
        ...


def backend_key(caller: Caller, operation: str, idempotency_key: str) -> str:
    """The key a backend sees: stable across retries, distinct per caller and operation, and
    revealing nothing of the caller's own key."""
    material = "\n".join((caller.scope, operation, idempotency_key))
    return f"lg-{hashlib.sha256(material.encode()).hexdigest()[:48]}"


class BackendKeyed:
    """Once-ness by the backends' own idempotency keys alone (the same key with other
    arguments gets the backend's answer to the first ones)."""

    async def run(
        self,
        caller: Caller,
        operation: str,
        idempotency_key: str,
        arguments: Mapping[str, Any],
        command: Callable[[str], Awaitable[T]],
    ) -> T:
        return await command(backend_key(caller, operation, idempotency_key))
