"""`[tracing]`: OpenTelemetry traces, exported over OTLP/HTTP; off until an endpoint is set."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class TracingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    otlp_endpoint: str | None = None
    """The collector's OTLP/HTTP traces URL, e.g. http://127.0.0.1:4318/v1/traces; unset, no
    span is recorded (requests still carry a `traceparent` to subgraphs and backends)."""
    service_name: str = Field("logistics-gateway", min_length=1, max_length=100)
    sample_ratio: float = Field(0.1, ge=0, le=1)
    """Share of new traces recorded; a request that arrives with a sampled `traceparent` is
    recorded whatever the ratio (parent-based sampling), so one request can always be followed.
    Recording every request costs a read model answer about a fifth more CPU (the spans are
    made and encoded in Python; `bench.observability`); a tenth costs about a twentieth."""
    export_delay_s: float = Field(5.0, gt=0, le=60)
    """How long finished spans wait to be sent together."""

    @field_validator("otlp_endpoint")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value
