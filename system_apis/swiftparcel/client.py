"""SwiftParcel's pull tracking as canonical milestones."""

from __future__ import annotations

import httpx

from domain.shipments import Milestone
from system_apis.api import BackendApi
from system_apis.resilience.client import BackendClient
from system_apis.settings import BackendSettings
from system_apis.swiftparcel.mapping import milestones_from_tracking
from system_apis.telemetry import NO_BACKEND_TELEMETRY, BackendTelemetry
from system_apis.urls import segment


class SwiftParcelClient(BackendApi):
    """Pulls a parcel's full event history (the webhook is the push path for the same events)."""

    @classmethod
    def from_settings(
        cls,
        settings: BackendSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        telemetry: BackendTelemetry = NO_BACKEND_TELEMETRY,
    ) -> SwiftParcelClient:
        return cls(
            BackendClient(
                settings,
                headers={"X-Swift-Key": settings.credential},
                transport=transport,
                telemetry=telemetry,
            )
        )

    async def track(
        self, tracking_number: str, *, correlation_id: str | None = None
    ) -> tuple[Milestone, ...]:
        operation = "track parcel"
        answer = await self._backend.get_json(
            f"/v1/track/{segment(tracking_number)}",
            operation=operation,
            correlation_id=correlation_id,
        )
        return self._map(operation, milestones_from_tracking, answer)
