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
from contextlib import AbstractContextManager
from contextvars import ContextVar, Token
from types import TracebackType

CORRELATION_HEADER = "X-Correlation-ID"

_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
_tenant: ContextVar[str | None] = ContextVar("tenant", default=None)


class _Current(AbstractContextManager[str]):
    """`value` current in `variable` for the block; a class rather than a generator-based
    context manager, because one is opened for every request served."""

    __slots__ = ("_token", "_value", "_variable")

    def __init__(self, variable: ContextVar[str | None], value: str) -> None:
        self._variable = variable
        self._value = value
        self._token: Token[str | None] | None = None

    def __enter__(self) -> str:
        self._token = self._variable.set(self._value)
        return self._value

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._token is not None:
            self._variable.reset(self._token)


def correlation_scope(correlation_id: str) -> AbstractContextManager[str]:
    """Make `correlation_id` the current one for the calls made inside the block."""
    return _Current(_correlation_id, correlation_id)


def current_correlation_id() -> str | None:
    return _correlation_id.get()


def resolve_correlation_id(explicit: str | None = None) -> str:
    """The id to send: the explicit one, else the current scope's, else a new one."""
    return explicit or _correlation_id.get() or uuid.uuid4().hex


def tenant_scope(tenant_id: str) -> AbstractContextManager[str]:
    """Make `tenant_id` the tenant of the calls made inside the block."""
    return _Current(_tenant, tenant_id)


def bind_tenant(tenant_id: str) -> None:
    """Make `tenant_id` the tenant of the current task from now on, and of the tasks it
    starts: for a connection whose tenant is known only once it is open (a WebSocket's
    `connection_init`), where no block surrounds the work."""
    _tenant.set(tenant_id)


def current_tenant() -> str | None:
    return _tenant.get()
