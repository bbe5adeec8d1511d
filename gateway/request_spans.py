"""The server span of every HTTP request and WebSocket connection, when tracing is on.

It continues the caller's trace when the request carries a W3C `traceparent` (and
`tracestate`), and is the current span while the request is served, so the router's,
the backend calls' and the webhook ingress's spans are its children. It is named after the
route template (`POST /graphql`, `POST /webhooks/{source}`), never the raw path a caller
chose, and starts inside the correlation-id stage, so it carries the correlation id.
"""

from __future__ import annotations

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_PROPAGATOR = TraceContextTextMapPropagator()
_CARRIED = {b"traceparent": "traceparent", b"tracestate": "tracestate"}


class RequestSpans:
    def __init__(self, app: ASGIApp, *, tracer: Tracer) -> None:
        self.app = app
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        carrier = {
            _CARRIED[name]: value.decode("latin-1")
            for name, value in scope["headers"]
            if name in _CARRIED
        }
        parent = _PROPAGATOR.extract(carrier) if carrier else otel_context.Context()
        method = scope.get("method", "WEBSOCKET")
        with self.tracer.start_as_current_span(
            method, context=parent, kind=SpanKind.SERVER, attributes={"http.request.method": method}
        ) as span:
            status = 0

            async def sending(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await self.app(scope, receive, sending)
            finally:
                route = getattr(scope.get("route"), "path", None)
                if route is not None:
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                if status:
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(trace.Status(trace.StatusCode.ERROR))
