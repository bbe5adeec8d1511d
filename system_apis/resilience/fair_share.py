"""Each tenant's share of one backend, so one tenant's flood does not starve the others.

Two bounds, both per backend: at most `tenant_limit` calls of one tenant in flight, and, when
the backend allows so many requests a second for everyone (the reference ERP allows its key
20), `per_second` attempts a second, a little under the backend's own limit so its 429s never
reach the callers who kept within their share. Attempts start evenly spaced (one every
1/`per_second` s, no burst): a window spent at once by one tenant's burst would make every
other tenant wait for the next window; spaced, a newcomer waits one turn. Calls that cannot
start at once wait in one queue per tenant, and the tenants with waiting calls take turns
(round robin): a tenant with hundreds of calls waiting delays a tenant with one by one turn,
not by hundreds. A call that waits longer than `wait_s` fails as `BackendThrottled`: under a
flood that is the flooding tenant's calls, whose queue is the long one.

The tenant of a call is the call context's (`system_apis.context.tenant_scope`); calls made
outside any (pollers, workflows) share the gateway's own turn. The rate bound is per process:
a deployment of N processes sharing one backend key gives each a per-second share of it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from system_apis.errors import BackendThrottled

GATEWAY_TENANT = ""
"""The turn of calls made for no tenant: the gateway's own pollers and workflows."""


class FairShare:
    """Owns one backend's per-tenant counts, the tenants' queues and the start times."""

    def __init__(
        self,
        backend: str,
        *,
        tenant_limit: int,
        per_second: int = 0,
        wait_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if tenant_limit < 1:
            raise ValueError("tenant_limit must be at least 1")
        self._backend = backend
        self._tenant_limit = tenant_limit
        self._per_second = per_second
        self._wait_s = wait_s
        self._clock = clock
        self._in_flight: dict[str, int] = {}
        self._waiting: dict[str, deque[asyncio.Future[None]]] = {}
        self._turns: deque[str] = deque()
        self._next_start = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._throttled = 0

    @property
    def throttled(self) -> int:
        """Calls that waited past `wait_s` for their turn."""
        return self._throttled

    def in_flight(self, tenant: str) -> int:
        return self._in_flight.get(tenant, 0)

    @asynccontextmanager
    async def slot(self, tenant: str | None, operation: str) -> AsyncIterator[None]:
        tenant = tenant or GATEWAY_TENANT
        granted = asyncio.get_running_loop().create_future()
        if tenant not in self._waiting:
            self._waiting[tenant] = deque()
            self._turns.append(tenant)
        self._waiting[tenant].append(granted)
        self._dispatch()
        if not granted.done():
            try:
                async with asyncio.timeout(self._wait_s):
                    await asyncio.shield(granted)
            except TimeoutError:
                if not granted.done():
                    granted.cancel()
                    self._throttled += 1
                    raise BackendThrottled(self._backend, operation, retry_after=None) from None
            except asyncio.CancelledError:
                if granted.done() and not granted.cancelled():
                    self._finish(tenant)
                else:
                    granted.cancel()
                raise
        try:
            yield
        finally:
            self._finish(tenant)

    def _finish(self, tenant: str) -> None:
        left = self._in_flight.get(tenant, 0) - 1
        if left > 0:
            self._in_flight[tenant] = left
        else:
            self._in_flight.pop(tenant, None)
        self._dispatch()

    def _rate_wait(self) -> float:
        """Seconds until another attempt may start (0: now)."""
        if self._per_second <= 0:
            return 0.0
        return max(0.0, self._next_start - self._clock())

    def _dispatch(self) -> None:
        """Start waiting calls, the tenants taking turns, while the bounds allow."""
        while self._turns:
            wait = self._rate_wait()
            if wait > 0:
                self._wake_in(wait)
                return
            if not self._start_next():
                return

    def _start_next(self) -> bool:
        """Start the next tenant's first waiting call; False when no tenant may start one."""
        for _ in range(len(self._turns)):
            if not self._turns:
                return False
            tenant = self._turns[0]
            queue = self._waiting[tenant]
            while queue and queue[0].done():  # given up waiting
                queue.popleft()
            if not queue:
                self._turns.popleft()
                del self._waiting[tenant]
                continue
            self._turns.rotate(-1)
            if self._in_flight.get(tenant, 0) >= self._tenant_limit:
                continue
            queue.popleft().set_result(None)
            self._in_flight[tenant] = self._in_flight.get(tenant, 0) + 1
            if self._per_second > 0:
                now = self._clock()
                self._next_start = max(now, self._next_start) + 1.0 / self._per_second
            return True
        return False

    def _wake_in(self, delay: float) -> None:
        if self._timer is not None:
            return

        def wake() -> None:
            self._timer = None
            self._dispatch()

        self._timer = asyncio.get_running_loop().call_later(delay, wake)
