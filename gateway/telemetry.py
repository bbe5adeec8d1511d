"""Traces: the OpenTelemetry SDK as the configuration sets it up, for one app.

The router (federation/), the backend clients (system_apis/) and the webhook ingress record
spans through the OpenTelemetry API with the tracer handed to them here; nothing is set
globally (no global tracer provider), so several apps in one process keep their traces
apart. Off by default: without `[tracing] otlp_endpoint` there is no provider, no tracer and
no span, and requests still carry a `traceparent` to subgraphs (`gateway.tracing`).

On: spans go in batches to the OTLP/HTTP endpoint (protobuf), every `export_delay_s`; new
traces are sampled at `sample_ratio`, and a caller's sampled `traceparent` is followed. Each
span carries the correlation id of the request or workflow step it was made in
(`correlation.id`), so a trace is found from a log line and the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Tracer

from gateway.tracing_config import TracingConfig
from system_apis.context import current_correlation_id
from system_apis.telemetry import CORRELATION_ATTRIBUTE

INSTRUMENTATION = "logistics-gateway"


class CorrelationIdSpans(SpanProcessor):
    """Puts the current correlation id on every span as it starts."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        correlation_id = current_correlation_id()
        if correlation_id is not None:
            span.set_attribute(CORRELATION_ATTRIBUTE, correlation_id)


@dataclass(frozen=True, slots=True)
class Tracing:
    """The app's provider and the tracer its components record with."""

    provider: TracerProvider
    tracer: Tracer

    def close(self) -> None:
        """Send what is pending, then stop the exporter."""
        self.provider.shutdown()


def start_tracing(config: TracingConfig) -> Tracing | None:
    """None when no endpoint is configured (tracing off)."""
    if config.otlp_endpoint is None:
        return None
    provider = TracerProvider(
        resource=Resource.create({"service.name": config.service_name}),
        sampler=ParentBased(TraceIdRatioBased(config.sample_ratio)),
    )
    provider.add_span_processor(CorrelationIdSpans())
    provider.add_span_processor(
        BatchSpanProcessor(
            OTLPSpanExporter(endpoint=config.otlp_endpoint, timeout=10),
            schedule_delay_millis=config.export_delay_s * 1000,
        )
    )
    return Tracing(provider, provider.get_tracer(INSTRUMENTATION))
