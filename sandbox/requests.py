"""The API requests a backend received, so a test can count what the product cost it.

Counted outside the fault middleware: a request answered by an injected fault was still made.
`/_admin` is never counted; the log keeps the most recent requests, the total counts them all.
A request's W3C `traceparent`, when it carries one, is kept with it: a traced caller can check
that its trace reached the backend.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.faults import ADMIN_PREFIX

KEPT = 2000


class RequestLog:
    def __init__(self) -> None:
        self.total = 0
        self._recent: deque[dict[str, str]] = deque(maxlen=KEPT)

    def record(self, method: str, path: str, query: str, traceparent: str | None = None) -> None:
        self.total += 1
        entry = {"method": method, "path": path, "query": query}
        if traceparent is not None:
            entry["traceparent"] = traceparent
        self._recent.append(entry)

    def clear(self) -> None:
        self.total = 0
        self._recent.clear()

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, "requests": list(self._recent)}


class RequestCounter:
    """Records every API request in `log`, then passes it on untouched."""

    def __init__(self, app: ASGIApp, log: RequestLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(ADMIN_PREFIX):
            query = scope.get("query_string", b"").decode("latin-1")
            traceparent = next(
                (value for name, value in scope["headers"] if name == b"traceparent"), None
            )
            self.log.record(
                scope["method"],
                scope["path"],
                query,
                traceparent.decode("latin-1")[:100] if traceparent is not None else None,
            )
        await self.app(scope, receive, send)
