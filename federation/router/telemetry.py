"""What the router tells the app that embeds it about its work: spans and fetch timings.

The router records spans through the OpenTelemetry API only, a library that does nothing
until an SDK is configured: the embedding app chooses the SDK, the exporter and the sampler,
and hands a `Tracer` in. Without one no span is made and the hot path pays one `is None`
test. Fetch timings go to `on_fetch`, a plain callable, so metrics need no particular library.

Spans, when traced: the operation (`query GetOrders`, with `graphql.plan.cached`), its
planning when it was not cached (`graphql.plan`) and each subgraph fetch (`fetch <subgraph>`,
a client span). While a span is current, HTTP and WebSocket subgraph requests carry its W3C
`traceparent` (`with_current_trace`), so a subgraph's own spans join the trace as its
children; without one the app's forwarded trace headers go as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from federation.router.headers import HeaderPairs

FetchObserver = Callable[[str, str, float], None]
"""``on_fetch(subgraph name, outcome, seconds)``; the outcome is ``ok`` or the failure's code
(``SUBGRAPH_TIMEOUT``, ``SUBGRAPH_REQUEST_FAILED``...), a small fixed set."""


@dataclass(frozen=True, slots=True)
class RouterTelemetry:
    """Where the router's spans and fetch timings go; nothing is recorded by default."""

    tracer: trace.Tracer | None = None
    on_fetch: FetchObserver | None = None

    @property
    def active(self) -> bool:
        return self.tracer is not None or self.on_fetch is not None

    def without_spans(self) -> RouterTelemetry:
        """The same timings without spans: for work no request waits on (a subscription's
        events), whose spans would each start a trace of their own."""
        return RouterTelemetry(on_fetch=self.on_fetch)


NO_TELEMETRY = RouterTelemetry()

_PROPAGATOR = TraceContextTextMapPropagator()
_TRACE_HEADERS = frozenset({"traceparent", "tracestate"})


def with_current_trace(pairs: HeaderPairs) -> HeaderPairs:
    """``pairs`` with ``traceparent`` (and ``tracestate``) of the current span, when there is
    one; unchanged otherwise."""
    if not trace.get_current_span().get_span_context().is_valid:
        return pairs
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return tuple(pair for pair in pairs if pair[0] not in _TRACE_HEADERS) + tuple(carrier.items())
