"""Several worker processes behind one listening socket (`run --workers N`, `demo --workers N`,
`serve --workers N`).

One Python process uses one core. uvicorn's supervisor binds the socket once and starts N
worker processes that accept on it; each builds its own app from an import string (the
factories below), because an app object cannot cross into a freshly spawned process. Each
worker reads the configuration again, from the file the parent was given (`LG_CONFIG`, set
by the parent) and the same `LG_*` variables, so every worker runs the same gateway.

Workers share nothing in memory. Whatever must hold for the deployment as a whole (the cache
and its purges, rate-limit counters, idempotency records, leases, the event log and live
fan-out) must therefore live in the shared engines: PostgreSQL, Redis, NATS JetStream. On the
embedded stores the command refuses to start several workers (`embedded_stores`) rather than
let each keep its own cache and counters, which would silently multiply every quota by N.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from types import FrameType

from federation.router.streaming import StreamShutdown
from gateway.config import CONFIG_FILE_VARIABLE, GatewayConfig, load_config

WORKER_COUNT_VARIABLE = "LG_WORKER_PROCESSES"
"""How many workers the supervisor runs, for each to take a metrics port of its own."""
SERVE_ARGUMENTS_VARIABLE = "LG_SERVE_ARGUMENTS"
"""`serve`'s own arguments, as JSON, for its workers (it has no configuration file)."""
MAX_WORKERS = 64
WORKER_START_S = 60
"""How long the supervisor lets a worker answer its health pings: a worker imports the whole
gateway before it answers, which takes several seconds on a busy small machine, and uvicorn's
default (5 s) would kill and restart it while it is still starting."""


def embedded_stores(config: GatewayConfig) -> list[str]:
    """Each setting that keeps state inside one process (or one machine's file), with what to
    set instead; empty when every store is a shared engine."""
    problems = []
    stores = config.stores
    if stores.database_url.startswith("sqlite"):
        problems.append(
            "[stores] database_url is SQLite, a file of this machine: set a "
            "postgresql+asyncpg:// URL (read models, workflows, idempotency records, leases)"
        )
    if stores.cache == "memory":
        problems.append(
            "[stores] cache is memory, one per process: set a redis:// URL (cached answers "
            "and their purges)"
        )
    throttling = config.throttling
    if throttling.enabled and throttling.storage_url(stores.cache) == "memory":
        problems.append(
            "[throttling] storage keeps rate-limit counters in memory: use 'cache' with a "
            "Redis cache, or a redis:// URL"
        )
    return problems


def refusal(config: GatewayConfig, workers: int) -> str | None:
    """Why `workers` processes cannot share this configuration, or None when they can."""
    problems = embedded_stores(config)
    if workers <= 1 or not problems:
        return None
    lines = [
        f"--workers {workers} needs the shared engines (PostgreSQL, Redis, NATS JetStream): "
        "with embedded stores every worker would keep its own cache and rate-limit counters, "
        "so quotas would be multiplied and purges missed."
    ]
    lines += [f"  - {problem}" for problem in problems]
    lines.append(
        '  (the event log is best on JetStream too: [stores] event_log = "nats://…"). '
        "Run one worker, or point [stores] at the shared engines."
    )
    return "\n".join(lines)


def begin_on_exit_signals(shutdown: StreamShutdown) -> None:
    """In a worker, uvicorn's own `Server` handles SIGTERM and SIGINT (the supervisor passes
    them on): chain to its handlers so subscriptions are told first and close with their own
    codes (WebSocket 1001, streams ended) while uvicorn shuts the connections down."""
    for number in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(number)

        def handler(
            signum: int,
            frame: FrameType | None,
            previous: Callable[[int, FrameType | None], object] | int | None = previous,
        ) -> None:
            shutdown.begin()
            if callable(previous):
                previous(signum, frame)

        signal.signal(number, handler)


def gateway_worker_app():  # type: ignore[no-untyped-def]
    """uvicorn's factory in each `run`/`demo` worker (`gateway.workers:gateway_worker_app`)."""
    from gateway.app import create_app

    config = load_config(None)
    shutdown = StreamShutdown()
    begin_on_exit_signals(shutdown)
    workers = int(os.environ.get(WORKER_COUNT_VARIABLE, "1"))
    return create_app(config, shutdown=shutdown, metrics_ports=max(1, workers), settle_heap=True)


def serve_worker_app():  # type: ignore[no-untyped-def]
    """uvicorn's factory in each `serve` worker: the router `serve`'s arguments describe."""
    import argparse
    from pathlib import Path

    import orjson

    from gateway.cli import router_app

    given = orjson.loads(os.environ[SERVE_ARGUMENTS_VARIABLE])
    return router_app(argparse.Namespace(**{**given, "supergraph": Path(given["supergraph"])}))


def export_config_path(path: object) -> None:
    """Tell the workers which file the parent read (they inherit the environment)."""
    if path is not None:
        os.environ[CONFIG_FILE_VARIABLE] = os.path.abspath(str(path))
