"""The correlation id of the request being served, forwarded on every outbound call.

The gateway opens a `correlation_scope(id)` around each request (or a workflow step opens one
around its work); every backend call made inside it, however deep, sends that id as
`X-Correlation-ID` without threading it through every signature. A call may still pass
`correlation_id=` explicitly, which wins. Outside any scope a fresh id is made per call, so
the retries of one call still share one id in the backend's logs.

A `ContextVar` is per task, so concurrent requests never see each other's id.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

CORRELATION_HEADER = "X-Correlation-ID"

_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)


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
