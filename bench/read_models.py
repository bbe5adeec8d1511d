"""Portal reads answered from the read models against the same reads sent to the backend.

    python -m bench.read_models
    python -m bench.read_models --rounds 5 --duration 5 --concurrency 16

It starts `logistics-gateway demo` on free ports and waits until the orders read model lists
C-1001's orders. Then, alternating which goes first in each round:

- gateway: `orders(first: 20)` through the gateway (GraphQL, API key, the orders read model);
- erp: the same page straight from the reference ERP (`GET /api/v1/sales-orders`, the call
  the gateway made per read before the read model), with the ERP's own key.

Each is measured twice: paced below the ERP's per-key rate limit (one request at a time,
`--paced` per second: latency p50 and p99 without throttling) and at `--concurrency` for
`--duration` seconds (answers per second; the ERP answers 429 beyond its per-key limit, which
counts against it, as it did against a portal). The summary gives the medians over rounds and
the gateway/erp ratios. Bounded by time per run; the load comes from this process.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from bench.demo import UNTHROTTLED, Gateway, demo_gateway
from gateway.config import DEMO_CLIENTS, GatewayConfig

TENANT = "C-1001"
TENANT_KEY = DEMO_CLIENTS["portal-c1001"].api_key
ORDERS = "{ orders(first: 20) { orders { id status } nextCursor } }"

Read = Callable[[httpx.AsyncClient], Awaitable[bool]]
"""One read; True when it was answered (not refused, not failed)."""


def gateway_read(gateway: Gateway) -> Read:
    async def read(client: httpx.AsyncClient) -> bool:
        answer = await client.post(
            f"{gateway.url}/graphql", json={"query": ORDERS}, headers={"X-API-Key": TENANT_KEY}
        )
        body = answer.json()
        return answer.status_code == 200 and not body.get("errors") and bool(body["data"])

    return read


def erp_read(gateway: Gateway) -> Read:
    erp_key = GatewayConfig.model_construct().backends.erp.credential

    async def read(client: httpx.AsyncClient) -> bool:
        answer = await client.get(
            f"{gateway.backends['erp']}/api/v1/sales-orders",
            params={"sold_to": TENANT, "sort": "desc", "limit": 20},
            headers={"X-ERP-Key": erp_key},
        )
        return answer.status_code == 200

    return read


async def wait_for_read_model(client: httpx.AsyncClient, gateway: Gateway, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = await client.post(
            f"{gateway.url}/graphql", json={"query": ORDERS}, headers={"X-API-Key": TENANT_KEY}
        )
        orders = (((answer.json().get("data") or {}).get("orders")) or {}).get("orders") or []
        if len(orders) >= 20:
            return len(orders)
        await asyncio.sleep(0.5)
    raise SystemExit("the orders read model never listed 20 orders of C-1001")


async def paced(client: httpx.AsyncClient, read: Read, count: int, per_s: float) -> list[float]:
    """Latencies (ms) of `count` answered reads, one at a time at most `per_s` a second."""
    latencies = []
    for _ in range(count):
        began = time.perf_counter()
        answered = await read(client)
        took = time.perf_counter() - began
        if answered:
            latencies.append(took * 1000)
        await asyncio.sleep(max(0.0, 1 / per_s - took))
    return latencies


async def loaded(
    client: httpx.AsyncClient, read: Read, concurrency: int, duration_s: float
) -> tuple[float, int]:
    """Answered reads per second over `duration_s`, and how many were refused or failed."""
    answered = refused = 0
    stop = time.monotonic() + duration_s

    async def worker() -> None:
        nonlocal answered, refused
        while time.monotonic() < stop:
            if await read(client):
                answered += 1
            else:
                refused += 1

    began = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return answered / (time.monotonic() - began), refused


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * share) - 1)] if ordered else float("nan")


async def measure(gateway: Gateway, arguments: argparse.Namespace) -> None:
    limits = httpx.Limits(max_connections=arguments.concurrency)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as client:
        listed = await wait_for_read_model(client, gateway, 120.0)
        print(f"read model lists {listed}+ orders of {TENANT}", flush=True)
        reads = {"gateway": gateway_read(gateway), "erp": erp_read(gateway)}
        figures: dict[str, dict[str, list[float]]] = {
            name: {"p50": [], "p99": [], "rps": []} for name in reads
        }
        for number in range(1, arguments.rounds + 1):
            order = list(reads) if number % 2 else list(reversed(reads))
            for name in order:
                latencies = await paced(client, reads[name], arguments.requests, arguments.paced)
                rate, refused = await loaded(
                    client, reads[name], arguments.concurrency, arguments.duration
                )
                await asyncio.sleep(1.0)  # the ERP's rate window empties between runs
                p50, p99 = statistics.median(latencies), percentile(latencies, 0.99)
                figures[name]["p50"].append(p50)
                figures[name]["p99"].append(p99)
                figures[name]["rps"].append(rate)
                print(
                    f"round {number} {name:>7}: paced p50 {p50:.1f} ms p99 {p99:.1f} ms; "
                    f"{rate:.0f} answered/s at {arguments.concurrency} ({refused} refused)",
                    flush=True,
                )
        median = {n: {k: statistics.median(v) for k, v in f.items()} for n, f in figures.items()}
        ours, theirs = median["gateway"], median["erp"]
        print(
            f"medians: gateway p50 {ours['p50']:.1f} ms, p99 {ours['p99']:.1f} ms, "
            f"{ours['rps']:.0f}/s; erp p50 {theirs['p50']:.1f} ms, p99 {theirs['p99']:.1f} ms, "
            f"{theirs['rps']:.0f}/s"
        )
        print(
            f"gateway/erp: p50 {ours['p50'] / theirs['p50']:.2f}, "
            f"p99 {ours['p99'] / theirs['p99']:.2f}, answered/s {ours['rps'] / theirs['rps']:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=60, help="paced reads per run")
    parser.add_argument("--paced", type=float, default=15.0, help="paced reads per second")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of load per run")
    arguments = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="bench-read-models-") as folder,
        demo_gateway("sql", "", Path(folder), 120.0, UNTHROTTLED) as gateway,
    ):
        asyncio.run(measure(gateway, arguments))


if __name__ == "__main__":
    main()
