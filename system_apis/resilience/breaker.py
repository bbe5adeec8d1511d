"""A circuit breaker per backend: stop calling a backend that keeps failing, probe it later.

closed    calls flow; consecutive failures are counted and `failure_threshold` of them open it.
open      calls fail fast with `CircuitOpen` without touching the backend, for `reset_s`.
half-open after `reset_s` exactly one trial call is let through: success closes the breaker,
          failure re-opens it for another `reset_s`; calls arriving meanwhile fail fast.

Only failures that say the backend is unhealthy count (connect errors, timeouts, 5xx); a 4xx or
a 429 is an answer from a working backend and counts as success. The clock is injected so tests
move time by hand; timestamps in the snapshot are readings of that clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from system_apis.errors import CircuitOpen


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerSnapshot:
    """The breaker as it stood at one moment, for health endpoints, metrics and tests."""

    backend: str
    state: BreakerState
    consecutive_failures: int
    total_failures: int
    total_successes: int
    rejected_calls: int
    opened_count: int
    last_failure_at: float | None
    last_success_at: float | None
    opened_at: float | None
    state_changed_at: float
    retry_at: float | None


TransitionHook = Callable[[str, BreakerState, BreakerState], None]
"""Called as hook(backend, old_state, new_state) on every state change."""


class CircuitBreaker:
    """State of one backend's breaker; owns counters, so it is a class."""

    def __init__(
        self,
        backend: str,
        *,
        failure_threshold: int = 5,
        reset_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        on_transition: TransitionHook | None = None,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self._backend = backend
        self._threshold = failure_threshold
        self._reset_s = reset_s
        self._clock = clock
        self._on_transition = on_transition
        self._state = BreakerState.CLOSED
        self._consecutive_failures = 0
        self._total_failures = 0
        self._total_successes = 0
        self._rejected = 0
        self._opened_count = 0
        self._last_failure_at: float | None = None
        self._last_success_at: float | None = None
        self._opened_at: float | None = None
        self._changed_at = clock()
        self._trial_in_flight = False

    @property
    def state(self) -> BreakerState:
        """The current state; an open breaker whose reset time has passed reads as half-open."""
        if self._state is BreakerState.OPEN and self._reset_due():
            self._transition(BreakerState.HALF_OPEN)
        return self._state

    def snapshot(self) -> BreakerSnapshot:
        state = self.state
        retry_at = (
            self._opened_at + self._reset_s
            if state is BreakerState.OPEN and self._opened_at is not None
            else None
        )
        return BreakerSnapshot(
            backend=self._backend,
            state=state,
            consecutive_failures=self._consecutive_failures,
            total_failures=self._total_failures,
            total_successes=self._total_successes,
            rejected_calls=self._rejected,
            opened_count=self._opened_count,
            last_failure_at=self._last_failure_at,
            last_success_at=self._last_success_at,
            opened_at=self._opened_at,
            state_changed_at=self._changed_at,
            retry_at=retry_at,
        )

    def acquire(self, operation: str) -> None:
        """Ask to make one call; raises `CircuitOpen` when the call must not be made.

        Every successful `acquire` must be followed by exactly one of `record_success`,
        `record_failure` or `release`.
        """
        state = self.state
        if state is BreakerState.CLOSED:
            return
        if state is BreakerState.HALF_OPEN and not self._trial_in_flight:
            self._trial_in_flight = True
            return
        self._rejected += 1
        raise CircuitOpen(self._backend, operation, retry_after=self._seconds_until_retry())

    def record_success(self) -> None:
        """A healthy answer: closes a half-open breaker (a late one leaves an open one open)."""
        self._trial_in_flight = False
        self._total_successes += 1
        self._consecutive_failures = 0
        self._last_success_at = self._clock()
        if self._state is BreakerState.HALF_OPEN:
            self._opened_at = None
            self._transition(BreakerState.CLOSED)

    def record_failure(self) -> None:
        self._trial_in_flight = False
        self._total_failures += 1
        self._consecutive_failures += 1
        self._last_failure_at = self._clock()
        if self._state is BreakerState.HALF_OPEN or (
            self._state is BreakerState.CLOSED and self._consecutive_failures >= self._threshold
        ):
            self._open()

    def release(self) -> None:
        """The call ended without a verdict (cancelled): free the trial slot, count nothing."""
        self._trial_in_flight = False

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._opened_count += 1
        self._transition(BreakerState.OPEN)

    def _reset_due(self) -> bool:
        return self._opened_at is not None and self._clock() - self._opened_at >= self._reset_s

    def _seconds_until_retry(self) -> float:
        if self._state is not BreakerState.OPEN or self._opened_at is None:
            return 0.0
        return max(0.0, self._opened_at + self._reset_s - self._clock())

    def _transition(self, new_state: BreakerState) -> None:
        old_state = self._state
        if old_state is new_state:
            return
        self._state = new_state
        self._changed_at = self._clock()
        if self._on_transition is not None:
            self._on_transition(self._backend, old_state, new_state)
