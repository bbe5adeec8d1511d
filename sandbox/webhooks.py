"""Outbound messages: ordered release with the duplicate and out-of-order faults, and HTTP push.

`OutboundQueue` decides *when* and *how often* a message goes out (one worker, so the order is
exactly what the faults make it); what "going out" means is a callable, which is an HTTP POST
for the pushing backends (`WebhookSender`) and a new status row for the polled carrier.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import httpx

from sandbox.faults import FaultState

Item = TypeVar("Item")
ATTEMPTS = 3
BACKOFF_SECONDS = 0.2
LOG_SIZE = 2000


@dataclass(frozen=True)
class Outbound:
    """One pushed message; a duplicate re-sends the very same object (same delivery id)."""

    delivery_id: str
    event_type: str
    body: bytes
    content_type: str = "application/json"


Signer = Callable[[Outbound, str, int], dict[str, str]]
"""Builds a backend's own identifying and signing headers from (message, secret, unix time)."""


class OutboundQueue(Generic[Item]):
    """Releases items one at a time in order, applying `duplicate_rate` and `out_of_order`."""

    def __init__(self, faults: FaultState, deliver: Callable[[Item], Awaitable[None]]) -> None:
        self._faults = faults
        self._deliver = deliver
        self._queue: asyncio.Queue[tuple[Item] | None] = asyncio.Queue()
        self._held: Item | None = None
        self._has_held = False
        self._worker: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._worker = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._worker:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    def put(self, item: Item) -> None:
        self._queue.put_nowait((item,))

    def release_held(self) -> None:
        """Let a message held back by `out_of_order` go, e.g. when the fault is switched off."""
        self._queue.put_nowait(None)

    async def drain(self, timeout: float = 15.0) -> None:
        """Wait until everything queued so far has been handled (sent, or held back)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), timeout)

    async def _run(self) -> None:
        while True:
            entry = await self._queue.get()
            try:
                # One message that cannot be delivered must not stop the ones behind it.
                with contextlib.suppress(Exception):
                    await self._release(entry)
            finally:
                self._queue.task_done()

    async def _release(self, entry: tuple[Item] | None) -> None:
        batch: list[Item] = []
        if entry is None:
            pass
        elif self._faults.settings.out_of_order and not self._has_held:
            self._held, self._has_held = entry[0], True
            return
        else:
            batch.append(entry[0])
        if self._has_held:
            batch.append(self._held)  # type: ignore[arg-type]
            self._held, self._has_held = None, False
        for item in batch:
            await self._deliver(item)
            if self._faults.duplicate_next():
                await self._deliver(item)


class WebhookSender:
    """Pushes signed messages to the configured URL, at least once, and logs every attempt."""

    def __init__(
        self, faults: FaultState, signer: Signer, url: str | None = None, secret: str = ""
    ) -> None:
        self.url = url
        self.secret = secret
        self._signer = signer
        self._log: deque[dict[str, Any]] = deque(maxlen=LOG_SIZE)
        self._client: httpx.AsyncClient | None = None
        self.queue: OutboundQueue[Outbound] = OutboundQueue(faults, self._post)

    def configure(self, url: str | None, secret: str | None) -> None:
        self.url = url
        if secret is not None:
            self.secret = secret

    def target(self) -> dict[str, Any]:
        return {"url": self.url, "secret_set": bool(self.secret)}

    def deliveries(self) -> list[dict[str, Any]]:
        return list(self._log)

    def clear_deliveries(self) -> None:
        self._log.clear()

    async def open(self) -> None:
        self._client = httpx.AsyncClient(timeout=5.0)

    async def close(self) -> None:
        if self._client:
            await self._client.aclose()

    def send(self, message: Outbound) -> None:
        self.queue.put(message)

    async def _post(self, message: Outbound) -> None:
        url = self.url
        if not url or self._client is None:
            return
        for attempt in range(1, ATTEMPTS + 1):
            timestamp = int(time.time())
            headers = {"Content-Type": message.content_type}
            headers.update(self._signer(message, self.secret, timestamp))
            entry: dict[str, Any] = {
                "delivery_id": message.delivery_id,
                "event_type": message.event_type,
                "url": url,
                "attempt": attempt,
                "sent_at": datetime.now(UTC).isoformat(),
                "status_code": None,
                "error": None,
            }
            try:
                response = await self._client.post(url, content=message.body, headers=headers)
                entry["status_code"] = response.status_code
            except httpx.HTTPError as error:
                entry["error"] = f"{type(error).__name__}: {error}"
            self._log.append(entry)
            if entry["status_code"] is not None and 200 <= entry["status_code"] < 300:
                return
            if attempt < ATTEMPTS:
                await asyncio.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
