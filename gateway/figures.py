"""The figures integration owners watch, read from the stores every so often and served as
metrics: dead letters, the last reconciliation, quiet shipments, stuck workflows, held
invoices (see `stores.figures` for what each counts).

They are read by a background task every `[metrics] figures_interval_s`, not at each scrape:
a scrape then costs nothing whatever its rate, the database sees one small batch of grouped
queries per interval, and a scrape on the separate metrics port (served from a thread) never
touches the event loop's connections. `gateway_figures_age_seconds` says how old they are; a
failed read keeps the previous figures and counts in `gateway_figures_read_failures_total`.
The ops dashboard reads the same collector (`fresh`), so an open dashboard refreshes the
figures the metrics serve too, rather than reading them a second time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.metrics_config import MetricsConfig
from stores.figures import StoreFigures, read_figures

logger = logging.getLogger(__name__)


class StoreFiguresCollector:
    """Holds the last figures read (a class: it owns them and the reading task's counts)."""

    def __init__(self, engine: AsyncEngine, settings: MetricsConfig) -> None:
        self._engine = engine
        self._settings = settings
        self.figures: StoreFigures | None = None
        self.read_at: float | None = None
        self.failures = 0

    async def read(self) -> None:
        """Read every figure now; on failure keep the previous ones."""
        now = datetime.now(UTC)
        try:
            self.figures = await read_figures(
                self._engine,
                quiet_since=now - timedelta(seconds=self._settings.quiet_shipment_after_s),
                stuck_since=now - timedelta(seconds=self._settings.stuck_workflow_after_s),
            )
            self.read_at = time.time()
        except Exception as error:
            self.failures += 1
            logger.warning("reading the store figures failed: %s: %s", type(error).__name__, error)

    @property
    def settings(self) -> MetricsConfig:
        return self._settings

    async def fresh(self, max_age_s: float) -> StoreFigures | None:
        """The figures, read again first when they are older than `max_age_s`."""
        if self.read_at is None or time.time() - self.read_at >= max_age_s:
            await self.read()
        return self.figures

    async def keep_reading(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.read()
            try:
                await asyncio.wait_for(stop.wait(), self._settings.figures_interval_s)
            except TimeoutError:
                continue

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        failures = CounterMetricFamily(
            "gateway_figures_read_failures", "Failed reads of the store figures."
        )
        failures.add_metric([], self.failures)
        yield failures
        figures, read_at = self.figures, self.read_at
        if figures is None or read_at is None:
            return
        yield GaugeMetricFamily(
            "gateway_figures_age_seconds",
            "Seconds since the store figures were read.",
            value=max(0.0, time.time() - read_at),
        )
        dead = GaugeMetricFamily(
            "gateway_dead_letters",
            "Dead letters not replayed into the log, by source and reason (the most frequent "
            "reasons of each source; the rest as other).",
            labels=["source", "reason"],
        )
        for (source, reason), count in sorted(figures.dead_letters.items()):
            dead.add_metric([source, reason], count)
        yield dead
        yield from _reconciliation(figures)
        yield GaugeMetricFamily(
            "gateway_quiet_shipments",
            "Shipments neither delivered nor returned whose last milestone is older than "
            "[metrics] quiet_shipment_after_s.",
            value=figures.quiet_shipments,
        )
        stuck = GaugeMetricFamily(
            "gateway_stuck_workflows",
            "Unfinished or held workflows that have not moved for [metrics] "
            "stuck_workflow_after_s, by kind and state.",
            labels=["kind", "state"],
        )
        for (kind, state), count in sorted(figures.stuck_workflows.items()):
            stuck.add_metric([kind, state], count)
        yield stuck
        held = GaugeMetricFamily(
            "gateway_held_invoices",
            "Invoices not yet posted after proof of delivery: ship-to-invoice workflows held "
            "for a person (HELD) or waiting for a backend (WAITING).",
            labels=["state"],
        )
        for state in ("HELD", "WAITING"):
            held.add_metric([state], figures.held_invoices.get(state, 0))
        yield held


def _reconciliation(figures: StoreFigures) -> Iterator[Metric]:
    last = figures.reconciliation
    if last is None:
        return
    yield GaugeMetricFamily(
        "gateway_reconciliation_finished_timestamp_seconds",
        "When the last ERP/WMS stock reconciliation finished (Unix time).",
        value=last.finished_at.timestamp(),
    )
    yield GaugeMetricFamily(
        "gateway_reconciliation_compared",
        "Warehouse and item pairs the last reconciliation compared.",
        value=last.compared,
    )
    yield GaugeMetricFamily(
        "gateway_reconciliation_variances",
        "Pairs whose ERP book stock and WMS count differed in the last reconciliation.",
        value=last.variances,
    )
    by_warehouse = GaugeMetricFamily(
        "gateway_reconciliation_warehouse_variances",
        "Variances of the last reconciliation by warehouse (the warehouses with most).",
        labels=["warehouse"],
    )
    for warehouse, count in sorted(last.by_warehouse.items()):
        by_warehouse.add_metric([warehouse], count)
    yield by_warehouse
