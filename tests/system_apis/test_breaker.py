"""Circuit breaker state transitions, driven by a hand-moved clock."""

from __future__ import annotations

import pytest

from system_apis.errors import CircuitOpen
from system_apis.resilience.breaker import BreakerState, CircuitBreaker


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_breaker(clock: FakeClock, transitions: list | None = None) -> CircuitBreaker:
    return CircuitBreaker(
        "erp",
        failure_threshold=3,
        reset_s=10.0,
        clock=clock,
        on_transition=(lambda *change: transitions.append(change))
        if transitions is not None
        else None,
    )


def fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        breaker.acquire("op")
        breaker.record_failure()


def test_stays_closed_below_the_failure_threshold() -> None:
    breaker = make_breaker(FakeClock())
    fail(breaker, 2)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.snapshot().consecutive_failures == 2


def test_a_success_resets_the_consecutive_failure_count() -> None:
    breaker = make_breaker(FakeClock())
    fail(breaker, 2)
    breaker.acquire("op")
    breaker.record_success()
    fail(breaker, 2)
    assert breaker.state is BreakerState.CLOSED


def test_opens_at_the_threshold_and_fails_fast_with_time_to_retry() -> None:
    clock = FakeClock()
    breaker = make_breaker(clock)
    fail(breaker, 3)
    assert breaker.state is BreakerState.OPEN
    clock.advance(4)
    with pytest.raises(CircuitOpen) as raised:
        breaker.acquire("get order")
    assert raised.value.retry_after == pytest.approx(6.0)
    assert raised.value.backend == "erp" and raised.value.operation == "get order"
    assert breaker.snapshot().rejected_calls == 1


def test_half_opens_after_reset_time_and_lets_exactly_one_trial_through() -> None:
    clock = FakeClock()
    breaker = make_breaker(clock)
    fail(breaker, 3)
    clock.advance(10)
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.acquire("trial")
    with pytest.raises(CircuitOpen):
        breaker.acquire("second caller while the trial is in flight")


def test_successful_trial_closes_the_breaker() -> None:
    clock = FakeClock()
    breaker = make_breaker(clock)
    fail(breaker, 3)
    clock.advance(10)
    breaker.acquire("trial")
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    breaker.acquire("normal call")


def test_failed_trial_reopens_for_another_reset_period() -> None:
    clock = FakeClock()
    breaker = make_breaker(clock)
    fail(breaker, 3)
    clock.advance(10)
    breaker.acquire("trial")
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    clock.advance(9.9)
    assert breaker.state is BreakerState.OPEN
    clock.advance(0.1)
    assert breaker.state is BreakerState.HALF_OPEN


def test_a_cancelled_trial_frees_the_trial_slot_without_a_verdict() -> None:
    clock = FakeClock()
    breaker = make_breaker(clock)
    fail(breaker, 3)
    clock.advance(10)
    breaker.acquire("trial")
    breaker.release()
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.acquire("next trial")


def test_a_late_success_does_not_close_an_open_breaker() -> None:
    clock = FakeClock()
    breaker = make_breaker(clock)
    fail(breaker, 3)
    breaker.record_success()
    assert breaker.state is BreakerState.OPEN


def test_transition_hook_sees_every_change_in_order() -> None:
    clock = FakeClock()
    transitions: list = []
    breaker = make_breaker(clock, transitions)
    fail(breaker, 3)
    clock.advance(10)
    breaker.acquire("trial")
    breaker.record_success()
    assert transitions == [
        ("erp", BreakerState.CLOSED, BreakerState.OPEN),
        ("erp", BreakerState.OPEN, BreakerState.HALF_OPEN),
        ("erp", BreakerState.HALF_OPEN, BreakerState.CLOSED),
    ]


def test_snapshot_reports_counts_and_clock_readings() -> None:
    clock = FakeClock()
    breaker = make_breaker(clock)
    breaker.acquire("op")
    breaker.record_success()
    clock.advance(1)
    fail(breaker, 3)
    snapshot = breaker.snapshot()
    assert snapshot.state is BreakerState.OPEN
    assert (snapshot.total_successes, snapshot.total_failures, snapshot.opened_count) == (1, 3, 1)
    assert snapshot.last_success_at == 1000.0
    assert snapshot.last_failure_at == snapshot.opened_at == 1001.0
    assert snapshot.retry_at == 1011.0
