"""RoadLine LTL, which only answers when asked: shipment history and the status feed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from domain.shipments import Milestone
from system_apis.api import BackendApi
from system_apis.milestones import MilestoneBatch
from system_apis.resilience.client import BackendClient, map_answer
from system_apis.roadline.mapping import milestones_from_shipment, milestones_from_status_updates
from system_apis.settings import BackendSettings
from system_apis.telemetry import NO_BACKEND_TELEMETRY, BackendTelemetry
from system_apis.urls import segment


class RoadLineClient(BackendApi):
    """Reads a PRO's history and polls the feed of status rows made since a cursor."""

    @classmethod
    def from_settings(
        cls,
        settings: BackendSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        telemetry: BackendTelemetry = NO_BACKEND_TELEMETRY,
    ) -> RoadLineClient:
        return cls(
            BackendClient(
                settings,
                params={"apikey": settings.credential},
                transport=transport,
                telemetry=telemetry,
            )
        )

    async def shipment_milestones(
        self, pro: str, *, correlation_id: str | None = None
    ) -> tuple[Milestone, ...]:
        operation = "get shipment status"
        answer = await self._backend.get_json(
            f"/api/shipments/{segment(pro)}", operation=operation, correlation_id=correlation_id
        )
        return self._map(operation, milestones_from_shipment, answer)

    async def status_updates(
        self, after: str | None = None, *, limit: int = 100, correlation_id: str | None = None
    ) -> MilestoneBatch:
        """One page of the feed; store `cursor` only after the batch is safely handled."""
        operation = "poll status updates"
        answer = await self._backend.get_json(
            "/api/status-updates",
            operation=operation,
            params={"after": after, "limit": limit},
            correlation_id=correlation_id,
        )
        return map_answer(
            self._backend.settings.name, operation, milestones_from_status_updates, answer
        )

    async def poll(
        self, after: str | None = None, *, limit: int = 100, correlation_id: str | None = None
    ) -> AsyncIterator[MilestoneBatch]:
        """Pages from `after` until the feed is drained; each batch carries its own cursor."""
        cursor = after
        while True:
            batch = await self.status_updates(cursor, limit=limit, correlation_id=correlation_id)
            empty = not batch.milestones and not batch.rejected
            if not empty:
                yield batch
            if empty or batch.cursor is None or batch.cursor == cursor:
                return
            cursor = batch.cursor
