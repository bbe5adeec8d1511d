"""Heritage Freight's outbox: the same X12 214 messages it pushes, pulled after a control number."""

from __future__ import annotations

from datetime import tzinfo

import httpx

from system_apis.api import BackendApi
from system_apis.errors import BackendUnavailable, MalformedPayload
from system_apis.heritage.inbound import parse_heritage_outbox
from system_apis.milestones import MilestoneBatch
from system_apis.resilience.client import BackendClient
from system_apis.settings import BackendSettings
from system_apis.telemetry import NO_BACKEND_TELEMETRY, BackendTelemetry


class HeritageClient(BackendApi):
    """Pulls 214 interchanges; each becomes milestones or a rejected record, never nothing."""

    def __init__(self, backend: BackendClient, *, home_zone: tzinfo | None = None) -> None:
        super().__init__(backend)
        self._home_zone = home_zone

    @classmethod
    def from_settings(
        cls,
        settings: BackendSettings,
        *,
        home_zone: tzinfo | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        telemetry: BackendTelemetry = NO_BACKEND_TELEMETRY,
    ) -> HeritageClient:
        return cls(
            BackendClient(settings, transport=transport, telemetry=telemetry), home_zone=home_zone
        )

    async def outbox(
        self, after: str | None = None, *, correlation_id: str | None = None
    ) -> MilestoneBatch:
        """Interchanges after control number `after`; the batch's cursor is the last one read."""
        response = await self._backend.request(
            "GET",
            "/edi/outbox",
            operation="pull status messages",
            params={"after": after},
            correlation_id=correlation_id,
        )
        try:
            batch = parse_heritage_outbox(response.content, home_zone=self._home_zone)
        except MalformedPayload as error:  # the whole body is unreadable (not UTF-8)
            name = self._backend.settings.name
            raise BackendUnavailable(
                name, "pull status messages", f"{name} answered in an unreadable format"
            ) from error
        return batch if batch.cursor else MilestoneBatch(batch.milestones, batch.rejected, after)
