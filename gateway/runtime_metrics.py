"""Figures the running gateway holds in memory, read at each scrape: breakers, the plan cache.

Reading them is a few attribute reads per backend, whatever the traffic, and safe from the
scrape's own thread when metrics are served on a port of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from federation.router.plan_cache import PlanCacheStats
from system_apis.resilience.breaker import BreakerSnapshot, BreakerState


class RuntimeCollector:
    """A prometheus-client collector over the breakers and the router's plan cache."""

    def __init__(
        self,
        breakers: Callable[[], Mapping[str, BreakerSnapshot]],
        plan_cache: Callable[[], PlanCacheStats],
    ) -> None:
        self._breakers = breakers
        self._plan_cache = plan_cache

    def describe(self) -> list[Metric]:
        return []  # nothing is read at registration

    def collect(self) -> Iterator[Metric]:
        state = GaugeMetricFamily(
            "gateway_backend_breaker_state",
            "1 for each backend's current breaker state (closed, open, half_open), else 0.",
            labels=["backend", "state"],
        )
        failures = GaugeMetricFamily(
            "gateway_backend_breaker_consecutive_failures",
            "Failures in a row of each backend, as its breaker counts them.",
            labels=["backend"],
        )
        for backend, snapshot in sorted(self._breakers().items()):
            for each in BreakerState:
                state.add_metric([backend, each.value], 1.0 if snapshot.state == each else 0.0)
            failures.add_metric([backend], snapshot.consecutive_failures)
        yield state
        yield failures
        stats = self._plan_cache()
        yield GaugeMetricFamily(
            "gateway_plan_cache_entries",
            "Prepared operations (and refused documents) in the query-plan cache.",
            value=stats.entries,
        )
        yield GaugeMetricFamily(
            "gateway_plan_cache_bytes", "Estimated size of the query-plan cache.", stats.size_bytes
        )
        lookups = CounterMetricFamily(
            "gateway_plan_cache_lookups",
            "Query-plan cache lookups by result (hit, miss); the hit rate is hits over both.",
            labels=["result"],
        )
        lookups.add_metric(["hit"], stats.hits)
        lookups.add_metric(["miss"], stats.misses)
        yield lookups
