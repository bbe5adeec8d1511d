"""The cost of metrics and tracing: the same portal reads with both on against both off.

    python -m bench.observability
    python -m bench.observability --rounds 5 --duration 8 --concurrency 16
    python -m bench.observability --in-process --rounds 10 --requests 1000

Each round starts `logistics-gateway demo` twice on free ports, once per setting, alternating
which goes first, and sends the same portal reads as `bench.policies` (an orders page from the
read model, with C-1001's demo key); rate limits are off in both, so only observability
differs:

- off: `[metrics] enabled = false`, no `[tracing] otlp_endpoint`;
- on: metrics on (every request counted and timed, the store figures read every 30 s) and
  tracing on at `--sample-ratio` (the configuration's default, 0.1, unless given; 1.0 makes
  every request, fetch and backend call a span),
  exported over OTLP/HTTP to a sink (a process of its own) that reads and drops each export, and
  `/metrics` scraped once a second, as a Prometheus server would far more rarely.

`--in-process` measures the same read without processes or sockets: the app is built in this
process (SQLite store, no polling, nothing else running) and driven through ASGI one read at a
time, `--requests` reads per run, and the figure is this process's CPU time per read
(exporter thread included), with the on/off ratio taken per round (the two runs of a round are
back to back, so the machine's other load moves both alike) and its median given.

Per run it prints answered reads per second at `--concurrency` for `--duration` seconds, the
paced latency p50 and p99 (one read at a time) and the gateway process's CPU time per
answered read under load (from /proc, less its background work measured idle just before:
steadier than reads per second when the load generator and the backends share the cores).
The summary gives medians over rounds and the on/off ratios. Everything listens on
loopback; every run is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from bench.demo import UNTHROTTLED, Gateway, demo_gateway
from bench.read_models import (
    ORDERS,
    TENANT_KEY,
    gateway_read,
    loaded,
    paced,
    percentile,
    wait_for_read_model,
)
from gateway.app import create_app
from gateway.config import DEMO_CLIENTS, GatewayConfig

ADMIN_KEY = DEMO_CLIENTS["operations"].api_key
QUIET: dict[str, str] = UNTHROTTLED
IDLE_S = 3.0
"""Seconds the gateway's own background work (polling, projections, the figures, a scrape a
second when on) is measured alone, to take it out of the CPU per read."""


class _Sink(BaseHTTPRequestHandler):
    """Reads an OTLP export and answers 200 with an empty (valid) export response."""

    def do_POST(self) -> None:
        size = int(self.headers.get("content-length", "0"))
        self.rfile.read(size)
        with self.server.lock:  # type: ignore[attr-defined]
            self.server.counts[0] += 1  # type: ignore[attr-defined]
            self.server.counts[1] += size  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        return None


def _serve_sink(port: Any, exports: Any) -> None:
    """The sink's process: shares its port and counts through `multiprocessing` values."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    server.lock = exports.get_lock()  # type: ignore[attr-defined]
    server.counts = exports  # type: ignore[attr-defined]
    port.value = server.server_address[1]  # type: ignore[attr-defined]
    server.serve_forever()


@contextmanager
def otlp_sink() -> Iterator[tuple[str, Any]]:
    """An OTLP/HTTP endpoint in a process of its own (its CPU is not the gateway's) that
    reads every export and answers 200; counts the exports and their bytes."""
    port = multiprocessing.Value("i", 0)
    exports = multiprocessing.Array("q", 2)
    process = multiprocessing.Process(target=_serve_sink, args=(port, exports), daemon=True)
    process.start()
    deadline = time.monotonic() + 10
    while port.value == 0 and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port.value}/v1/traces", exports  # type: ignore[attr-defined]
    finally:
        process.terminate()
        process.join(5)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of one process (not its children), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def scraping(gateway: Gateway, stop: asyncio.Event) -> None:
    """`/metrics` once a second while the load runs, with the demo's admin key."""
    async with httpx.AsyncClient(timeout=10.0) as client:
        while not stop.is_set():
            answer = await client.get(f"{gateway.url}/metrics", headers={"X-API-Key": ADMIN_KEY})
            if answer.status_code != 200:
                raise SystemExit(f"/metrics answered {answer.status_code}")
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except TimeoutError:
                continue


async def run_once(
    gateway: Gateway, arguments: argparse.Namespace, scrape: bool
) -> dict[str, float]:
    limits = httpx.Limits(max_connections=arguments.concurrency)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as client:
        await wait_for_read_model(client, gateway, 120.0)
        read = gateway_read(gateway)
        await loaded(client, read, arguments.concurrency, 1.0)  # warm caches of the process
        latencies = await paced(client, read, arguments.requests, arguments.paced)
        stop = asyncio.Event()
        scraper = asyncio.create_task(scraping(gateway, stop)) if scrape else None
        assert gateway.pid, "the demo process is measured"
        idle_before = cpu_seconds(gateway.pid)
        await asyncio.sleep(IDLE_S)
        idle_per_s = (cpu_seconds(gateway.pid) - idle_before) / IDLE_S
        cpu_before = cpu_seconds(gateway.pid)
        rate, refused = await loaded(client, read, arguments.concurrency, arguments.duration)
        cpu = cpu_seconds(gateway.pid) - cpu_before - idle_per_s * arguments.duration
        stop.set()
        if scraper is not None:
            await scraper
    return {
        "p50": statistics.median(latencies),
        "p99": percentile(latencies, 0.99),
        "rps": rate,
        "cpu_ms": 1000 * cpu / max(1.0, rate * arguments.duration),
        "idle_cpu": 100 * idle_per_s,
        "refused": float(refused),
    }


def in_process_config(
    folder: Path, on: bool, endpoint: str, ratio: float, what: str = "both"
) -> GatewayConfig:
    metrics = on and what in ("both", "metrics")
    tracing = on and what in ("both", "tracing")
    return GatewayConfig.model_validate(
        {
            "stores": {"database_url": f"sqlite+aiosqlite:///{folder / 'gateway.sqlite3'}"},
            "polling": {"enabled": False},
            "throttling": {"enabled": False},
            "metrics": {"enabled": metrics},
            "tracing": {"otlp_endpoint": endpoint, "sample_ratio": ratio} if tracing else {},
        }
    )


async def in_process_run(config: GatewayConfig, reads: int) -> float:
    """Microseconds of this process's CPU per read, over `reads` reads after a warm-up."""
    app = create_app(config)
    state: dict[str, object] = {}
    started, stopping = asyncio.Event(), asyncio.Event()

    async def receive() -> dict[str, str]:
        if not started.is_set():
            return {"type": "lifespan.startup"}
        await stopping.wait()
        return {"type": "lifespan.shutdown"}

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "lifespan.startup.complete":
            started.set()
        elif message["type"] == "lifespan.startup.failed":
            raise SystemExit(f"the app did not start: {message.get('message')}")

    lifespan = asyncio.create_task(app({"type": "lifespan", "state": state}, receive, send))
    await started.wait()

    async def with_state(scope, receive, send):  # type: ignore[no-untyped-def]
        await app({**scope, "state": dict(state)}, receive, send)

    transport = httpx.ASGITransport(app=with_state)
    headers = {"X-API-Key": TENANT_KEY}
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for _ in range(100):
            await client.post("/graphql", json={"query": ORDERS}, headers=headers)
        began = time.process_time()
        for _ in range(reads):
            answer = await client.post("/graphql", json={"query": ORDERS}, headers=headers)
            if answer.status_code != 200 or answer.json().get("errors"):
                raise SystemExit(f"a read failed: {answer.text[:200]}")
        spent = time.process_time() - began
    stopping.set()
    await lifespan
    return 1e6 * spent / reads


def in_process(arguments: argparse.Namespace) -> None:
    ratios: list[float] = []
    with otlp_sink() as (endpoint, received):
        for number in range(1, arguments.rounds + 1):
            order = ["off", "on"] if number % 2 else ["on", "off"]
            spent: dict[str, float] = {}
            for name in order:
                with tempfile.TemporaryDirectory(prefix=f"bench-observability-{name}-") as folder:
                    config = in_process_config(
                        Path(folder), name == "on", endpoint, arguments.sample_ratio, arguments.only
                    )
                    spent[name] = asyncio.run(in_process_run(config, arguments.requests))
            ratios.append(spent["on"] / spent["off"])
            print(
                f"round {number}: off {spent['off']:.0f} us CPU/read, on {spent['on']:.0f} "
                f"us CPU/read, on/off {ratios[-1]:.3f}",
                flush=True,
            )
        print(f"the OTLP sink received {received[0]} exports, {received[1]} bytes")
    print(
        f"on/off CPU per read, median of {len(ratios)} rounds: {statistics.median(ratios):.3f} "
        f"(lowest {min(ratios):.3f}, highest {max(ratios):.3f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--requests", type=int, default=100, help="paced reads per run")
    parser.add_argument("--paced", type=float, default=50.0, help="paced reads per second")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=6.0, help="seconds of load per run")
    parser.add_argument(
        "--sample-ratio", type=float, default=0.1, help="[tracing] sample_ratio when on"
    )
    parser.add_argument(
        "--in-process", action="store_true", help="the app in this process, CPU per read only"
    )
    parser.add_argument(
        "--only",
        choices=("both", "metrics", "tracing"),
        default="both",
        help="with --in-process: what 'on' turns on",
    )
    arguments = parser.parse_args()
    if arguments.in_process:
        in_process(arguments)
        return
    figures: dict[str, list[dict[str, float]]] = {"off": [], "on": []}
    with otlp_sink() as (endpoint, received):
        settings = {
            "off": {**QUIET, "LG_METRICS__ENABLED": "false"},
            "on": {
                **QUIET,
                "LG_METRICS__ENABLED": "true",
                "LG_TRACING__OTLP_ENDPOINT": endpoint,
                "LG_TRACING__SAMPLE_RATIO": str(arguments.sample_ratio),
            },
        }
        for number in range(1, arguments.rounds + 1):
            order = list(settings) if number % 2 else list(reversed(settings))
            for name in order:
                with (
                    tempfile.TemporaryDirectory(prefix=f"bench-observability-{name}-") as folder,
                    demo_gateway("sql", "", Path(folder), 120.0, settings[name]) as gateway,
                ):
                    result = asyncio.run(run_once(gateway, arguments, scrape=name == "on"))
                figures[name].append(result)
                print(
                    f"round {number} observability {name:>3}: {result['rps']:.0f} answered/s "
                    f"({result['refused']:.0f} refused), {result['cpu_ms']:.2f} ms CPU/read "
                    f"(idle {result['idle_cpu']:.1f}% of a core), "
                    f"paced p50 {result['p50']:.1f} ms p99 {result['p99']:.1f} ms",
                    flush=True,
                )
        print(f"the OTLP sink received {received[0]} exports, {received[1]} bytes")
    median = {
        name: {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        for name, runs in figures.items()
    }
    on, off = median["on"], median["off"]
    for name, figure in (("on", on), ("off", off)):
        print(
            f"median {name:>3}: {figure['rps']:.0f}/s, {figure['cpu_ms']:.2f} ms CPU/read, "
            f"idle {figure['idle_cpu']:.1f}% of a core, "
            f"p50 {figure['p50']:.1f} ms, p99 {figure['p99']:.1f} ms"
        )
    print(
        f"on/off: answered/s {on['rps'] / off['rps']:.3f}, CPU/read "
        f"{on['cpu_ms'] / off['cpu_ms']:.3f}, p50 {on['p50'] / off['p50']:.3f}, "
        f"p99 {on['p99'] / off['p99']:.3f}"
    )


if __name__ == "__main__":
    main()
