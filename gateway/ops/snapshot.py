"""One picture of the gateway for the dashboard, as JSON: built at most once per refresh by
`gateway.ops.feed` and shared by every open dashboard.

Operator-wide: the admin scope is the operators', so a snapshot shows every tenant's dead
letters, workflows and clients alike, whichever tenant the signed-in admin client names.
What comes from the stores (dead letters, reconciliation, workflows, quiet shipments) is the
same on every process; what comes from memory (events applied, clients' requests) is this
process's own (`gateway.ops.history`), and the snapshot names the process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.figures import StoreFiguresCollector
from gateway.ops.history import MINUTES, ClientTraffic, EventFlow
from gateway.ops_config import OpsConfig
from gateway.readiness import Readiness
from gateway.reconciliation_admin import run_summary, variance_summary
from gateway.runtime import GatewayRuntime
from gateway.workflow_admin import workflow_summary

logger = logging.getLogger(__name__)

RECENT_LETTERS = 25
LISTED_VARIANCES = 20
LISTED_WORKFLOWS = 20
TOP_CLIENTS = 10


@dataclass(frozen=True, slots=True)
class SnapshotSources:
    runtime: GatewayRuntime
    readiness: Callable[[], Awaitable[Readiness]]
    figures: StoreFiguresCollector
    """The figures `/metrics` serves: one read serves both."""
    flow: EventFlow
    traffic: ClientTraffic
    settings: OpsConfig
    streams: Callable[[], dict[str, int]]
    """Open dashboards and slow ones dropped, from the feed."""


async def build_snapshot(sources: SnapshotSources) -> dict[str, Any]:
    """Every section; one that cannot be read says so in `unavailable` and the rest stand."""
    now = datetime.now(UTC)
    snapshot: dict[str, Any] = {
        "generated_at": now.isoformat(),
        "process": sources.runtime.stores.holder_id,
        "refresh_s": sources.settings.refresh_s,
        "unavailable": [],
    }
    sections: dict[str, Callable[[], Awaitable[dict[str, Any]]]] = {
        "health": lambda: _health(sources),
        "figures": lambda: _figures(sources),
        "dead_letters": lambda: _dead_letters(sources),
        "reconciliation": lambda: _reconciliation(sources),
        "workflows": lambda: _workflows(sources, now),
    }
    for name, section in sections.items():
        try:
            snapshot[name] = await section()
        except Exception as error:  # a store out of reach: the page says which part is missing
            logger.warning("ops snapshot: %s unavailable (%s)", name, type(error).__name__)
            snapshot["unavailable"].append(name)
            snapshot[name] = None
    snapshot["events"] = _events(sources.flow)
    snapshot["clients"] = [
        {
            "client_id": figures.client_id,
            "tenant_id": figures.tenant_id,
            "per_minute": figures.per_minute,
            "requests_last_hour": figures.requests_last_hour,
            "rejections_last_hour": figures.rejections_last_hour,
        }
        for figures in sources.traffic.top(TOP_CLIENTS)
    ]
    snapshot["streams"] = sources.streams()
    return snapshot


async def _health(sources: SnapshotSources) -> dict[str, Any]:
    readiness = await sources.readiness()
    breakers = sources.runtime.clients.breakers()
    now = time.monotonic()
    backends = {}
    for name, state in readiness.backends.items():
        breaker = breakers.get(name)
        details: dict[str, Any] = dict(state)
        if breaker is not None:
            details.update(
                consecutive_failures=breaker.consecutive_failures,
                total_failures=breaker.total_failures,
                rejected_calls=breaker.rejected_calls,
                opened_count=breaker.opened_count,
                retry_in_s=(
                    None if breaker.retry_at is None else round(max(0.0, breaker.retry_at - now), 1)
                ),
            )
        backends[name] = details
    return {
        "status": readiness.status,
        "backends": backends,
        "stores": dict(readiness.stores),
        "subgraphs": dict(readiness.subgraphs),
    }


async def _figures(sources: SnapshotSources) -> dict[str, Any]:
    collector = sources.figures
    figures = await collector.fresh(sources.settings.refresh_s)
    if figures is None or collector.read_at is None:
        raise RuntimeError("the store figures could not be read")
    last = figures.reconciliation
    return {
        "read_at": datetime.fromtimestamp(collector.read_at, UTC).isoformat(),
        "dead_letters": [
            {"source": source, "reason": reason, "count": count}
            for (source, reason), count in sorted(
                figures.dead_letters.items(), key=lambda item: (item[0][0], -item[1], item[0][1])
            )
        ],
        "reconciliation": None
        if last is None
        else {
            "finished_at": last.finished_at.isoformat(),
            "compared": last.compared,
            "variances": last.variances,
            "by_warehouse": dict(last.by_warehouse),
        },
        "quiet_shipments": figures.quiet_shipments,
        "stuck_workflows": [
            {"kind": kind, "state": state, "count": count}
            for (kind, state), count in sorted(figures.stuck_workflows.items())
        ],
        "held_invoices": dict(figures.held_invoices),
    }


async def _dead_letters(sources: SnapshotSources) -> dict[str, Any]:
    letters = await sources.runtime.stores.dead_letters.recent(RECENT_LETTERS)
    return {
        "recent": [
            {
                "id": letter.dead_letter_id,
                "source": letter.source,
                "reason": letter.reason[:300],
                "received_at": letter.received_at.isoformat(),
                "size": letter.size,
                "replayed_at": letter.replayed_at.isoformat() if letter.replayed_at else None,
                "replay_outcome": letter.replay_outcome,
            }
            for letter in letters
        ]
    }


async def _reconciliation(sources: SnapshotSources) -> dict[str, Any]:
    store = sources.runtime.stores.reconciliation
    run = await store.latest()
    if run is None:
        return {"run": None, "variances": []}
    variances = await store.variances(run.run_id, after=None, limit=LISTED_VARIANCES)
    return {"run": run_summary(run), "variances": [variance_summary(v) for v in variances]}


async def _workflows(sources: SnapshotSources, now: datetime) -> dict[str, Any]:
    after_s = sources.figures.settings.stuck_workflow_after_s
    stuck = await sources.runtime.stores.workflows.stuck(
        now - timedelta(seconds=after_s), LISTED_WORKFLOWS
    )
    return {
        "stuck_after_s": after_s,
        "stuck": [workflow_summary(w) for w in stuck],
    }


def _events(flow: EventFlow) -> dict[str, Any]:
    return {
        "minutes": flow.minutes(),
        "window_minutes": MINUTES,
        "sources": {
            source: {
                "applied": series.applied,
                "lag_mean_s": series.lag_mean_s,
                "lag_max_s": series.lag_max_s,
                "applied_last_hour": sum(series.applied),
                "lag_max_last_hour_s": max(series.lag_max_s, default=0.0),
            }
            for source, series in flow.by_source().items()
        },
    }
