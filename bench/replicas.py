"""Replicas: the same portal reads against one gateway process and against two and three
worker processes sharing the listening socket (`demo --workers N`), on the shared engines.

    python -m bench.replicas
    python -m bench.replicas --rounds 3 --duration 8 --concurrency 32 --workers 1,2,3

One PostgreSQL database (made for the run, dropped after it), one Redis namespace and one
JetStream stream serve every start, so each worker count finds the same read models. Each
round starts `logistics-gateway demo --workers N` once per N (the order rotating between
rounds), waits for the orders read model, warms the processes up, then sends the orders page
of C-1001 (answered from the read model in PostgreSQL) for `--duration` seconds at
`--concurrency` connections, with wrk when installed (one thread) or a bounded asyncio client.
Rate limits are off: the figures are the gateway's own throughput, not a quota.

It prints per run the answered reads per second, the p99 under that load and the gateway's
CPU milliseconds per read (its processes' user and system time, the backends left out), then
per N the medians and the throughput's ratio to one process. CPU per read is what shows
whether workers scale where cores are free: if it stays flat as N grows, N workers on N free
cores give N times the reads. The load generator, the
reference backends, PostgreSQL, Redis and NATS share the machine with the gateway: on a machine
with fewer cores than workers + 1 the ratio measures how the cores are shared, not how the
gateway scales (the summary says how many cores there were). Loopback only; bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import uuid
from pathlib import Path

import httpx
import orjson

from bench.demo import Gateway, demo_gateway
from bench.load import LoadResult, have_wrk, run_python, run_wrk
from bench.read_models import ORDERS, TENANT_KEY, gateway_read, loaded, wait_for_read_model

POSTGRES_ADMIN = os.environ.get(
    "LG_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


async def _admin(statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def _delete_stream(nats_url: str, name: str) -> None:
    import nats
    import nats.js.errors

    client = await nats.connect(nats_url)
    try:
        await client.jetstream().delete_stream(name)
    except nats.js.errors.NotFoundError:
        pass
    finally:
        await client.close()


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            tree.setdefault(parent, []).append(int(entry))
    return tree


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read()
    except OSError:
        return b""


def gateway_cpu_s(root: int) -> float:
    """CPU seconds used so far by the gateway's processes: the demo command and its
    descendants, less the reference backends (`-m sandbox` and theirs)."""
    tree, total, pending = _children(), 0.0, [root]
    while pending:
        pid = pending.pop()
        if b"-m\x00sandbox" in _cmdline(pid):
            continue
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            pass
        pending += tree.get(pid, [])
    return total


def measure(gateway: Gateway, arguments: argparse.Namespace) -> tuple[LoadResult, float]:
    """The load run, and the gateway's CPU milliseconds per answered read during it."""

    async def prepare() -> None:
        limits = httpx.Limits(max_connections=arguments.concurrency)
        async with httpx.AsyncClient(timeout=30.0, limits=limits) as client:
            await wait_for_read_model(client, gateway, 180.0)
            read = gateway_read(gateway)
            _, refused = await loaded(client, read, arguments.concurrency, 2.0)  # warm up
            if refused:
                raise SystemExit(f"{refused} warm-up reads were refused or failed")

    asyncio.run(prepare())
    body = orjson.dumps({"query": ORDERS})
    run = run_wrk if have_wrk() and not arguments.python_load else run_python
    cpu_before = gateway_cpu_s(gateway.pid)
    result = run(
        f"{gateway.url}/graphql",
        body,
        arguments.duration,
        arguments.concurrency,
        {"X-API-Key": TENANT_KEY},
    )
    cpu_ms = (gateway_cpu_s(gateway.pid) - cpu_before) * 1000 / max(1, result.requests)
    return result, cpu_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", default="1,2,3", help="worker counts to compare")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--nats", default="nats://127.0.0.1:4222")
    parser.add_argument("--python-load", action="store_true", help="use the asyncio load client")
    parser.add_argument("--start-timeout", type=float, default=120.0)
    arguments = parser.parse_args()
    counts = [int(part) for part in arguments.workers.split(",")]
    if not 1 <= arguments.rounds <= 20 or not 1 <= arguments.duration <= 120:
        raise SystemExit("--rounds 1 to 20, --duration 1 to 120 seconds")

    suffix = uuid.uuid4().hex[:8]
    database = f"bench_replicas_{suffix}"
    stream = f"BENCH_REPLICAS_{suffix.upper()}"
    asyncio.run(_admin(f'CREATE DATABASE "{database}"'))
    base = POSTGRES_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    overrides = {
        "LG_STORES__DATABASE_URL": f"{base}/{database}",
        "LG_STORES__EVENT_LOG": arguments.nats,
        "LG_STORES__EVENT_STREAM": stream,
        "LG_STORES__EVENT_SUBJECT_PREFIX": f"benchreplicas{suffix}.events",
        "LG_STORES__CACHE": arguments.redis,
        "LG_STORES__CACHE_NAMESPACE": f"bench-replicas-{suffix}",
        "LG_THROTTLING__ENABLED": "false",
        # The feeds at their usual pace: the demo's 2 s would sweep the WMS's 2,415 stock
        # positions every 2 s, and that work, not the reads, would fill the cores.
        "LG_POLLING__INTERVAL_S": "15",
    }
    results: dict[int, list[LoadResult]] = {count: [] for count in counts}
    cpu: dict[int, list[float]] = {count: [] for count in counts}
    load = "wrk (one thread)" if have_wrk() and not arguments.python_load else "asyncio client"
    print(f"{os.cpu_count()} cores; load from {load}; {arguments.concurrency} connections")
    try:
        with tempfile.TemporaryDirectory(prefix="bench-replicas-") as folder:
            for round_number in range(arguments.rounds):
                shift = round_number % len(counts)
                for count in counts[shift:] + counts[:shift]:
                    with demo_gateway(
                        "shared",
                        arguments.nats,
                        Path(folder),
                        arguments.start_timeout,
                        overrides,
                        arguments=("--workers", str(count)),
                    ) as gateway:
                        load_before = os.getloadavg()[0]
                        result, cpu_ms = measure(gateway, arguments)
                    results[count].append(result)
                    cpu[count].append(cpu_ms)
                    print(
                        f"round {round_number + 1} workers {count}: {result.rps:8.0f} reads/s, "
                        f"p99 {result.p99_ms:6.1f} ms, {cpu_ms:5.2f} CPU ms/read, "
                        f"bad {result.bad_status}, socket errors {result.socket_errors} "
                        f"(load average before: {load_before:.1f})",
                        flush=True,
                    )
    finally:
        asyncio.run(_delete_stream(arguments.nats, stream))
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    one = statistics.median(r.rps for r in results[counts[0]])
    print(f"\nmedians over {arguments.rounds} rounds ({os.cpu_count()} cores):")
    for count in counts:
        rps = statistics.median(r.rps for r in results[count])
        p99 = statistics.median(r.p99_ms for r in results[count])
        per_read = statistics.median(cpu[count])
        print(
            f"  {count} worker(s): {rps:8.0f} reads/s  x{rps / one:4.2f}  p99 {p99:6.1f} ms  "
            f"{per_read:5.2f} CPU ms/read"
        )


if __name__ == "__main__":
    main()
