"""What every backend client shares: one `BackendClient` it owns, closes and maps answers of."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Self, TypeVar

from system_apis.resilience.client import BackendClient, map_answer

T = TypeVar("T")


class BackendApi:
    """A backend's operations over its resilient HTTP client; closing it closes that client."""

    def __init__(self, backend: BackendClient) -> None:
        self._backend = backend

    @property
    def backend(self) -> BackendClient:
        return self._backend

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._backend.aclose()

    def _map(self, operation: str, mapper: Callable[[Any], T], answer: Any) -> T:
        return map_answer(self._backend.settings.name, operation, mapper, answer)
