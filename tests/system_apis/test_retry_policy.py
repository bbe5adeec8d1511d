"""What may be retried, how long to wait, and how Retry-After is read."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from system_apis.resilience.retry import backoff_delay, is_retry_safe, parse_retry_after


@pytest.mark.parametrize("method", ["GET", "HEAD", "get"])
def test_reads_are_safe_to_retry(method: str) -> None:
    assert is_retry_safe(method)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_writes_without_an_idempotency_key_are_not_retried(method: str) -> None:
    assert not is_retry_safe(method, {"X-Correlation-ID": "c1"})


def test_writes_with_an_idempotency_key_are_safe_to_retry() -> None:
    assert is_retry_safe("POST", {"idempotency-key": "k1"})


def test_backoff_grows_exponentially_up_to_the_cap_and_is_fully_jittered() -> None:
    bounds = [backoff_delay(n, base_s=0.1, max_s=1.0, random=lambda: 1.0) for n in range(6)]
    assert bounds == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])
    assert backoff_delay(3, base_s=0.1, max_s=1.0, random=lambda: 0.0) == 0.0
    assert backoff_delay(3, base_s=0.1, max_s=1.0, random=lambda: 0.5) == pytest.approx(0.4)


def test_backoff_does_not_overflow_for_large_attempt_numbers() -> None:
    assert backoff_delay(10_000, base_s=0.1, max_s=2.0, random=lambda: 1.0) == 2.0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("3", 3.0), (" 0 ", 0.0), ("1.5", 1.5), ("120", 120.0)],
)
def test_retry_after_in_seconds(value: str, seconds: float) -> None:
    assert parse_retry_after(value) == seconds


def test_retry_after_as_http_date_is_measured_from_now() -> None:
    now = datetime(2026, 11, 20, 14, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Fri, 20 Nov 2026 14:00:30 GMT", now) == 30.0


def test_retry_after_date_in_the_past_means_no_wait() -> None:
    now = datetime(2026, 11, 20, 14, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Fri, 20 Nov 2026 13:59:00 GMT", now) == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "nan", "inf", "Fri, 99 Nov"])
def test_unusable_retry_after_is_ignored(value: str | None) -> None:
    assert parse_retry_after(value) is None
