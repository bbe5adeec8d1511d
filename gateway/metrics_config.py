"""`[metrics]`: the Prometheus metrics at `/metrics`, and the store figures among them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class MetricsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    port: Literal["main"] | int = "main"
    """`main`: `/metrics` on the gateway's own port, for callers with the admin scope. A port
    number: `/metrics` there, without credentials, on `host` (a network only the scraper
    reaches), and not on the gateway's port."""
    host: str = "127.0.0.1"
    max_operation_names: int = Field(100, ge=1, le=10_000)
    """Operation names given a label of their own; later new names count as `other`."""
    figures_interval_s: float = Field(30.0, ge=1, le=3600)
    """How often the figures read from the stores (dead letters, reconciliation, quiet
    shipments, stuck workflows, held invoices) are read again."""
    quiet_shipment_after_s: float = Field(86_400.0, ge=60, le=90 * 86_400)
    """A shipment neither delivered nor returned whose last milestone is older than this."""
    stuck_workflow_after_s: float = Field(3600.0, ge=10, le=30 * 86_400)
    """An unfinished or held workflow that has not moved for this long."""

    def separate_port(self) -> int | None:
        return None if self.port == "main" else self.port

    @field_validator("port")
    @classmethod
    def _port_number(cls, value: str | int) -> str | int:
        if isinstance(value, int) and not 1 <= value <= 65535:
            raise ValueError("must be 'main' or a port number from 1 to 65535")
        return value
