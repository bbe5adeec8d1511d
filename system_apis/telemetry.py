"""What backend calls tell the app about themselves: a span each, and their timings.

Spans go through the OpenTelemetry API, which records nothing until the app configures an
SDK and hands a `Tracer` in; while a call's span is current, every attempt carries its W3C
`traceparent`, so a backend that traces joins the trace of the request that caused the call.
Timings go to `on_call`, a plain callable. Both are off by default.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

BackendCallObserver = Callable[[str, str, str, float], None]
"""``on_call(backend, operation, outcome, seconds)`` once per call (all its attempts): the
outcome is ``ok`` or the `BackendError` class that ended it (``BackendTimeout``,
``CircuitOpen``...); operations are the clients' own names, a fixed set."""


@dataclass(frozen=True, slots=True)
class BackendTelemetry:
    tracer: trace.Tracer | None = None
    on_call: BackendCallObserver | None = None

    @property
    def active(self) -> bool:
        return self.tracer is not None or self.on_call is not None


NO_BACKEND_TELEMETRY = BackendTelemetry()

CORRELATION_ATTRIBUTE = "correlation.id"
"""Every call's span names the correlation id the call sends, also outside any request (a
poller's or a workflow step's own id)."""

_PROPAGATOR = TraceContextTextMapPropagator()


def inject_current_trace(headers: MutableMapping[str, str]) -> None:
    """Add `traceparent` (and `tracestate`) of the current span; nothing without one."""
    _PROPAGATOR.inject(headers)
