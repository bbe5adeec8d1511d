"""Resilience shared by every backend client: breaker, retry policy, concurrency bound, client."""

from system_apis.resilience.breaker import BreakerSnapshot, BreakerState, CircuitBreaker
from system_apis.resilience.bulkhead import Bulkhead
from system_apis.resilience.client import BackendClient, map_answer
from system_apis.resilience.fair_share import FairShare
from system_apis.resilience.retry import backoff_delay, is_retry_safe, parse_retry_after

__all__ = [
    "BackendClient",
    "BreakerSnapshot",
    "BreakerState",
    "Bulkhead",
    "CircuitBreaker",
    "FairShare",
    "backoff_delay",
    "is_retry_safe",
    "map_answer",
    "parse_retry_after",
]
