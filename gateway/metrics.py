"""The gateway's Prometheus metrics: one registry per app, every label value bounded.

Each app owns its `CollectorRegistry` (never prometheus-client's global one), so several apps
in one process (the tests, an embedding program) keep their figures apart. Components record
through plain methods whose signatures are the hooks they expose (`on_fetch`, `on_call`,
`on_applied`...), so none of them imports prometheus-client. Values that change by themselves
(breakers, the plan cache, the figures read from the stores) are read when scraped, by
collectors the app registers once its runtime is up.

Label values are bounded: clients, subgraphs, backends, webhook sources and consumers are
named by the configuration or the code; operation names come from callers, so they go
through `gateway.labels` (GraphQL names only, the first `max_operation_names` executed ones,
the rest `other`); prometheus-client escapes what remains (quotes, backslashes, newlines).

Several processes: every process keeps and serves its own figures (prometheus-client's
multiprocess mode is not used: it needs a shared directory, a global registry and gives up
custom collectors). Scrape each process on its own address: with `[metrics] port = "main"`
behind a balancer, or with `--workers N` sharing one socket, a scrape would reach one process
at random, so give the metrics a port (`[metrics] port`): each of N workers then takes the
first free one of `port` to `port + N - 1`, and Prometheus scrapes them all and adds them up
(`sum by (...)` over `instance`); the figures read from the shared stores are the same in
every process (take their `max`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.registry import Collector

from gateway.labels import ANONYMOUS, BoundedLabels, operation_label
from stores.event_log import StoredEvent

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LAG_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 14_400.0, 86_400.0)
MAX_EVENT_SOURCES = 50


class GatewayMetrics:
    """What one app counts and times, in its own registry."""

    def __init__(self, *, max_operation_names: int = 100) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self._children: dict[tuple[object, ...], object] = {}
        """Each metric's child per label values, once made: `labels()` checks its arguments
        at every call, which costs more than the count itself."""
        self._operations = BoundedLabels(max_operation_names)
        self._event_sources = BoundedLabels(MAX_EVENT_SOURCES)
        self._requests = Counter(
            "gateway_requests",
            "GraphQL requests over HTTP, by operation name, client and outcome (ok, errors, "
            "invalid, failed, unauthenticated, forbidden, rate_limited, stream). Operations "
            "a WebSocket carries are counted as subscriptions and refusals, not here.",
            ["operation", "client", "outcome"],
            registry=registry,
        )
        self._request_seconds = Histogram(
            "gateway_request_duration_seconds",
            "Whole GraphQL requests over HTTP, first byte in to last byte out, by operation.",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._fetch_seconds = Histogram(
            "gateway_subgraph_fetch_duration_seconds",
            "Each subgraph fetch of a plan (in-process or HTTP), by subgraph and outcome.",
            ["subgraph", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._backend_seconds = Histogram(
            "gateway_backend_call_duration_seconds",
            "Each backend call (all its attempts and waits), by backend, operation, outcome.",
            ["backend", "operation", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._cache_lookups = Counter(
            "gateway_cache_lookups",
            "Cache lookups by cache and result (hit, miss).",
            ["cache", "result"],
            registry=registry,
        )
        self._rate_limited = Counter(
            "gateway_rate_limited",
            "Requests and operations refused by a limit (client, failed_authentication, "
            "subscriptions), by client.",
            ["limit", "client"],
            registry=registry,
        )
        self._subscriptions_open = Gauge(
            "gateway_subscriptions_open",
            "Subscriptions open now, by transport (websocket, sse, multipart).",
            ["transport"],
            registry=registry,
        )
        self._subscription_events = Counter(
            "gateway_subscription_events",
            "Subscription events handed to subscribers' connections.",
            registry=registry,
        )
        self._event_lag = Histogram(
            "gateway_event_lag_seconds",
            "From an event's occurred-at to its being applied, by source and consumer.",
            ["source", "consumer"],
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self._webhook_failures = Counter(
            "gateway_webhook_failures",
            "Webhook deliveries not accepted, by source and reason (unauthenticated, "
            "malformed, unknown_code, too_large, unavailable, unknown_source).",
            ["source", "reason"],
            registry=registry,
        )

    # -- what components call -----------------------------------------------------------------

    def request(
        self, operation: str | None, client: str | None, outcome: str, seconds: float | None
    ) -> None:
        """One GraphQL request; `seconds` None for a stream, whose length says nothing."""
        executed = outcome in ("ok", "errors")
        label = operation_label(operation, self._operations, executed=executed)
        self._child(self._requests, label, client or ANONYMOUS, outcome).inc()
        if seconds is not None:
            self._child(self._request_seconds, label).observe(seconds)

    def subgraph_fetch(self, subgraph: str, outcome: str, seconds: float) -> None:
        self._child(self._fetch_seconds, subgraph, outcome).observe(seconds)

    def backend_call(self, backend: str, operation: str, outcome: str, seconds: float) -> None:
        self._child(self._backend_seconds, backend, operation, outcome).observe(seconds)

    def _child(self, metric: Any, *values: str) -> Any:
        key = (id(metric), *values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    def cache_lookups(self, cache: str, hits: int, misses: int) -> None:
        if hits:
            self._cache_lookups.labels(cache, "hit").inc(hits)
        if misses:
            self._cache_lookups.labels(cache, "miss").inc(misses)

    def rate_limited(self, limit: str, client: str | None) -> None:
        self._rate_limited.labels(limit, client or ANONYMOUS).inc()

    def subscription_opened(self, transport: str) -> None:
        self._subscriptions_open.labels(transport).inc()

    def subscription_closed(self, transport: str) -> None:
        self._subscriptions_open.labels(transport).dec()

    def subscription_event(self) -> None:
        self._subscription_events.inc()

    def events_applied(self, consumer: str, events: Sequence[StoredEvent]) -> None:
        """Each event's lag; the series is looked up once per source in the batch (a batch
        mostly comes from one source), not once per event."""
        now = datetime.now(UTC)
        lags: dict[str, list[float]] = {}
        for stored in events:
            envelope = stored.envelope
            lag = (now - envelope.occurred_at).total_seconds()
            lags.setdefault(envelope.source_name, []).append(lag if lag > 0.0 else 0.0)
        for source_name, observed in lags.items():
            series = self._child(self._event_lag, self._event_sources(source_name), consumer)
            for lag in observed:
                series.observe(lag)

    def webhook_failed(self, source: str, reason: str) -> None:
        self._webhook_failures.labels(source, reason).inc()

    # -- the registry -------------------------------------------------------------------------

    def watch(self, collector: Collector) -> None:
        self.registry.register(collector)

    def unwatch(self, collector: Collector) -> None:
        self.registry.unregister(collector)

    def exposition(self) -> bytes:
        """The Prometheus text format of everything, read now."""
        return generate_latest(self.registry)
