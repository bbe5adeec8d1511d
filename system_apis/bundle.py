"""Every backend client built together, closed together, and their breakers seen together."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import tzinfo
from types import TracebackType
from typing import Self

from system_apis.api import BackendApi
from system_apis.erp.client import ErpClient
from system_apis.heritage.client import HeritageClient
from system_apis.resilience.breaker import BreakerSnapshot
from system_apis.roadline.client import RoadLineClient
from system_apis.settings import BackendSettings
from system_apis.swiftparcel.client import SwiftParcelClient
from system_apis.telemetry import NO_BACKEND_TELEMETRY, BackendTelemetry
from system_apis.tms.client import TmsClient
from system_apis.wms.client import WmsClient


@dataclass(frozen=True, slots=True)
class SystemClients:
    """One client per backend, each with its own pool, breaker and concurrency bound."""

    erp: ErpClient
    wms: WmsClient
    tms: TmsClient
    swiftparcel: SwiftParcelClient
    roadline: RoadLineClient
    heritage: HeritageClient

    @classmethod
    def from_settings(
        cls,
        *,
        erp: BackendSettings,
        wms: BackendSettings,
        tms: BackendSettings,
        swiftparcel: BackendSettings,
        roadline: BackendSettings,
        heritage: BackendSettings,
        heritage_home_zone: tzinfo | None = None,
        telemetry: BackendTelemetry = NO_BACKEND_TELEMETRY,
    ) -> SystemClients:
        return cls(
            erp=ErpClient.from_settings(erp, telemetry=telemetry),
            wms=WmsClient.from_settings(wms, telemetry=telemetry),
            tms=TmsClient.from_settings(tms, telemetry=telemetry),
            swiftparcel=SwiftParcelClient.from_settings(swiftparcel, telemetry=telemetry),
            roadline=RoadLineClient.from_settings(roadline, telemetry=telemetry),
            heritage=HeritageClient.from_settings(
                heritage, home_zone=heritage_home_zone, telemetry=telemetry
            ),
        )

    def _all(self) -> tuple[BackendApi, ...]:
        return (self.erp, self.wms, self.tms, self.swiftparcel, self.roadline, self.heritage)

    def breakers(self) -> dict[str, BreakerSnapshot]:
        """Each backend's breaker, by backend name, for health checks and metrics."""
        return {
            client.backend.settings.name: client.backend.breaker.snapshot()
            for client in self._all()
        }

    async def aclose(self) -> None:
        await asyncio.gather(*(client.aclose() for client in self._all()))

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
