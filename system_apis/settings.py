"""How to reach one backend and how patiently: the only configuration a client needs.

The defaults here are the product's defaults; the gateway's configuration file takes its
defaults from this class, so a backend behaves the same whether built from a file or in code.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class BackendSettings:
    """One backend's connection and resilience settings.

    `credential` is the backend's secret (API key, bearer token); each client knows where its
    backend expects it. Times are seconds. `timeout_s` bounds one attempt from sending the
    request to the last byte of the answer, however slowly the bytes arrive; `call_timeout_s`
    bounds a whole call: every attempt and every wait between them. Retries apply only to
    calls that are safe to repeat (see `system_apis.resilience.retry`); `retry_after_max_s`
    is the longest Retry-After we honour before failing as throttled instead of waiting.
    `max_response_bytes` caps an answer's body: past it the answer is abandoned unread.
    Each tenant may have `tenant_max_concurrency` calls in flight, and `max_requests_per_s`
    (0: no bound) bounds the attempts started in any one second for everyone; calls beyond
    either wait their tenant's turn (see `system_apis.resilience.fair_share`).
    """

    name: str
    url: str
    credential: str = field(default="", repr=False)
    timeout_s: float = 2.0
    call_timeout_s: float = 10.0
    max_response_bytes: int = 8_000_000
    max_retries: int = 2
    backoff_base_s: float = 0.1
    backoff_max_s: float = 2.0
    retry_after_max_s: float = 5.0
    breaker_failure_threshold: int = 5
    breaker_reset_s: float = 10.0
    max_concurrency: int = 32
    concurrency_wait_s: float = 1.0
    tenant_max_concurrency: int = 8
    max_requests_per_s: int = 0

    def __post_init__(self) -> None:
        problems = []
        if not self.name:
            problems.append("name must not be empty")
        if not self.url.startswith(("http://", "https://")):
            problems.append(f"url must be http(s), got {self.url!r}")
        positive = ("timeout_s", "call_timeout_s", "backoff_base_s", "backoff_max_s")
        for key in (*positive, "breaker_reset_s"):
            if getattr(self, key) <= 0:
                problems.append(f"{key} must be positive")
        for key in ("max_retries", "retry_after_max_s", "concurrency_wait_s", "max_requests_per_s"):
            if getattr(self, key) < 0:
                problems.append(f"{key} must not be negative")
        for key in (
            "breaker_failure_threshold",
            "max_concurrency",
            "max_response_bytes",
            "tenant_max_concurrency",
        ):
            if getattr(self, key) < 1:
                problems.append(f"{key} must be at least 1")
        if problems:
            raise ValueError(f"backend {self.name!r}: " + "; ".join(problems))
