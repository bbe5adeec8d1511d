"""SwiftParcel's pull tracking as canonical milestones."""

from __future__ import annotations

import httpx

from domain.shipments import Milestone
from system_apis.resilience.client import BackendClient, map_answer
from system_apis.settings import BackendSettings
from system_apis.swiftparcel.mapping import milestones_from_tracking
from system_apis.urls import segment


class SwiftParcelClient:
    """Pulls a parcel's full event history (the webhook is the push path for the same events)."""

    def __init__(self, backend: BackendClient) -> None:
        self._backend = backend

    @classmethod
    def from_settings(
        cls, settings: BackendSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> SwiftParcelClient:
        return cls(
            BackendClient(
                settings, headers={"X-Swift-Key": settings.credential}, transport=transport
            )
        )

    @property
    def backend(self) -> BackendClient:
        return self._backend

    async def __aenter__(self) -> SwiftParcelClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._backend.aclose()

    async def track(
        self, tracking_number: str, *, correlation_id: str | None = None
    ) -> tuple[Milestone, ...]:
        operation = "track parcel"
        answer = await self._backend.get_json(
            f"/v1/track/{segment(tracking_number)}",
            operation=operation,
            correlation_id=correlation_id,
        )
        return map_answer(self._backend.settings.name, operation, milestones_from_tracking, answer)
