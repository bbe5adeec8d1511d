"""When a failed call may be sent again, and how long to wait before it.

Repeating a call is safe only when the backend cannot apply it twice: reads (GET, HEAD) and
writes that carry an `Idempotency-Key` the backend deduplicates on. Everything else is sent
once, because a 5xx or a timeout does not tell whether the write was applied. A connect error
is the exception: nothing reached the backend, so any call may be sent again.

Waits use exponential backoff with full jitter (a uniformly random wait up to the exponential
bound), so many clients failing together do not retry in lockstep. A `Retry-After` from the
backend replaces the computed wait; one longer than the caller's cap is not waited for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
IDEMPOTENCY_HEADER = "Idempotency-Key"
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
"""Statuses that describe a passing condition; 501 and 505 will not change on a retry."""


def is_retry_safe(method: str, headers: Mapping[str, str] | None = None) -> bool:
    """True when sending the call again cannot apply it twice."""
    if method.upper() in SAFE_METHODS:
        return True
    return any(name.lower() == IDEMPOTENCY_HEADER.lower() for name in headers or {})


def backoff_delay(
    attempt: int,
    *,
    base_s: float,
    max_s: float,
    random: Callable[[], float],
) -> float:
    """Full-jitter wait before retry number `attempt` (0 for the first retry)."""
    bound = min(max_s, base_s * (2 ** min(attempt, 32)))
    return bound * random()


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delay-seconds or HTTP-date); None if unusable."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 and seconds == seconds and seconds != float("inf") else None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    reference = now or datetime.now(UTC)
    return max(0.0, (moment - reference).total_seconds())
