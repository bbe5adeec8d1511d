"""Every GraphQL request over HTTP counted and timed, refused ones included.

An ASGI middleware early in the pipeline, so a request the authentication or the rate limits
answer is counted too (`unauthenticated`, `forbidden`, `rate_limited`, from its status). A
request that reaches the router is counted with the outcome and operation name the router
reported (`federation.router.http_app.Report`), which the GraphQL endpoint leaves in the
request's state under `REPORTED`. Streams (SSE, multipart) are counted but not timed: their
length is the subscriber's, not the gateway's.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.metrics import GatewayMetrics
from policies.principal import Principal

REPORTED = "graphql_report"
"""Key of `(operation name, outcome, streamed)` in the request's state."""
_BY_STATUS = {401: "unauthenticated", 403: "forbidden", 429: "rate_limited"}


class RequestMetrics:
    def __init__(self, app: ASGIApp, *, metrics: GatewayMetrics, path: str = "/graphql") -> None:
        self.app = app
        self.metrics = metrics
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            state = scope.get("state", {})
            principal = state.get("principal")
            client = principal.client_id if isinstance(principal, Principal) else None
            reported = state.get(REPORTED)
            if reported is not None:
                name, outcome, streamed = reported
            else:
                name, streamed = None, False
                outcome = _BY_STATUS.get(status) or ("failed" if status >= 500 else "invalid")
            seconds = None if streamed else time.perf_counter() - started
            self.metrics.request(name, client, outcome, seconds)
