"""A per-key sliding one-second window, shared by the ERP's own limit and the throttle fault."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    """Admits at most `per_second` calls per key in any one-second window."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_second = per_second
        self._clock = clock
        self._calls: dict[str, deque[float]] = {}

    def retry_after(self, key: str) -> int | None:
        """Record a call; None when admitted, else the whole seconds to wait (at least 1)."""
        now = self._clock()
        calls = self._calls.setdefault(key, deque())
        while calls and calls[0] <= now - 1.0:
            calls.popleft()
        if len(calls) >= self.per_second:
            return max(1, math.ceil(calls[0] + 1.0 - now))
        calls.append(now)
        return None
