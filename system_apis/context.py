"""What every outbound call knows of the work it is part of: the correlation id and the tenant.

The gateway opens a `correlation_scope(id)` around each request (or a workflow step opens one
around its work); every backend call made inside it, however deep, sends that id as
`X-Correlation-ID` without threading it through every signature. A call may still pass
`correlation_id=` explicitly, which wins. Outside any scope a fresh id is made per call, so
the retries of one call still share one id in the backend's logs.

The tenant the request acts for (`tenant_scope`) decides whose share of a backend each
call takes (`system_apis.resilience.fair_share`); calls made for no tenant (pollers,
workflows) share the gateway's own.

A `ContextVar` is per task, so concurrent requests never see each other's id or tenant.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

CORRELATION_HEADER = "X-Correlation-ID"

_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
_tenant: ContextVar[str | None] = ContextVar("tenant", default=None)


@contextmanager
def correlation_scope(correlation_id: str) -> Iterator[str]:
    """Make `correlation_id` the current one for the calls made inside the block."""
    token = _correlation_id.set(correlation_id)
    try:
        yield correlation_id
    finally:
        _correlation_id.reset(token)


def current_correlation_id() -> str | None:
    return _correlation_id.get()


def resolve_correlation_id(explicit: str | None = None) -> str:
    """The id to send: the explicit one, else the current scope's, else a new one."""
    return explicit or _correlation_id.get() or uuid.uuid4().hex


@contextmanager
def tenant_scope(tenant_id: str) -> Iterator[str]:
    """Make `tenant_id` the tenant of the calls made inside the block."""
    token = _tenant.set(tenant_id)
    try:
        yield tenant_id
    finally:
        _tenant.reset(token)


def bind_tenant(tenant_id: str) -> None:
    """Make `tenant_id` the tenant of the current task from now on, and of the tasks it
    starts: for a connection whose tenant is known only once it is open (a WebSocket's
    `connection_init`), where no block surrounds the work."""
    _tenant.set(tenant_id)


def current_tenant() -> str | None:
    return _tenant.get()
