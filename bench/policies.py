"""The cost of the policy pipeline: the same reads with every policy on against every one off.

    python -m bench.policies
    python -m bench.policies --rounds 5 --duration 8 --concurrency 16

Each round starts `logistics-gateway demo` twice on free ports, once per setting, alternating
which goes first, and sends the same portal read (a page of 20 orders from the read model)
with C-1001's demo key:

- off: the policies that can be switched off are (rate limits, cost budgets, response cache,
  persisted-operation checks); authentication and field authorization always run;
- on: every policy on, with limits set high enough that nothing is refused, so the figures
  are the price of checking, not of refusing; the response cache is off here too, since a
  hit would hide the pipeline's cost (`--cache` turns it on, to see what it saves).

Per run it prints answered reads per second at `--concurrency` for `--duration` seconds and
the paced latency p50 and p99 (one read at a time). The summary gives medians over rounds
and the on/off ratios. Everything listens on loopback; every run is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path

import httpx

from bench.demo import Gateway, demo_gateway
from bench.read_models import ORDERS, TENANT_KEY, loaded, paced, percentile, wait_for_read_model

_OUT_OF_REACH = (
    '{"rate_limits": ["1000000000/minute", "1000000000/second"], "max_cost": 1000000000000}'
)

POLICIES_OFF: dict[str, str] = {
    "LG_THROTTLING__ENABLED": "false",
    "LG_DEMAND_CONTROL__ENABLED": "false",
    "LG_PERSISTED_QUERIES__APQ": "false",
}
"""Configuration overrides with every policy that can be off, off."""

POLICIES_ON: dict[str, str] = {
    "LG_THROTTLING__ENABLED": "true",
    "LG_PLANS": "{"
    + ", ".join(f'"{plan}": {_OUT_OF_REACH}' for plan in ("standard", "basic", "premium"))
    + "}",
}
"""Configuration overrides with every policy on and its limits out of reach."""

CACHE_ON: dict[str, str] = {"LG_CACHE__ENABLED": "true"}
"""Overrides that add the response cache to `POLICIES_ON`."""


def portal_read(gateway: Gateway):  # type: ignore[no-untyped-def]
    async def read(client: httpx.AsyncClient) -> bool:
        answer = await client.post(
            f"{gateway.url}/graphql", json={"query": ORDERS}, headers={"X-API-Key": TENANT_KEY}
        )
        return answer.status_code == 200 and not answer.json().get("errors")

    return read


async def run_once(gateway: Gateway, arguments: argparse.Namespace) -> dict[str, float]:
    limits = httpx.Limits(max_connections=arguments.concurrency)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as client:
        await wait_for_read_model(client, gateway, 120.0)
        await asyncio.sleep(arguments.settle)  # the first polls' catch-up ends before measuring
        read = portal_read(gateway)
        await loaded(client, read, arguments.concurrency, 1.0)  # warm caches of the process
        latencies = await paced(client, read, arguments.requests, arguments.paced)
        rate, refused = await loaded(client, read, arguments.concurrency, arguments.duration)
    return {
        "p50": statistics.median(latencies),
        "p99": percentile(latencies, 0.99),
        "rps": rate,
        "refused": float(refused),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=100, help="paced reads per run")
    parser.add_argument("--paced", type=float, default=50.0, help="paced reads per second")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=6.0, help="seconds of load per run")
    parser.add_argument(
        "--settle", type=float, default=10.0, help="seconds between start-up and measuring"
    )
    parser.add_argument("--cache", action="store_true", help="the response cache on, too")
    arguments = parser.parse_args()
    settings = {
        "off": POLICIES_OFF,
        "on": {**POLICIES_ON, **(CACHE_ON if arguments.cache else {})},
    }
    figures: dict[str, list[dict[str, float]]] = {name: [] for name in settings}
    for number in range(1, arguments.rounds + 1):
        order = list(settings) if number % 2 else list(reversed(settings))
        for name in order:
            with (
                tempfile.TemporaryDirectory(prefix=f"bench-policies-{name}-") as folder,
                demo_gateway("sql", "", Path(folder), 120.0, settings[name]) as gateway,
            ):
                result = asyncio.run(run_once(gateway, arguments))
            figures[name].append(result)
            print(
                f"round {number} policies {name:>3}: {result['rps']:.0f} answered/s "
                f"({result['refused']:.0f} refused), paced p50 {result['p50']:.1f} ms "
                f"p99 {result['p99']:.1f} ms",
                flush=True,
            )
    median = {
        name: {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        for name, runs in figures.items()
    }
    on, off = median["on"], median["off"]
    print(
        f"medians: on {on['rps']:.0f}/s p50 {on['p50']:.1f} ms p99 {on['p99']:.1f} ms; "
        f"off {off['rps']:.0f}/s p50 {off['p50']:.1f} ms p99 {off['p99']:.1f} ms"
    )
    print(
        f"on/off: answered/s {on['rps'] / off['rps']:.2f}, p50 {on['p50'] / off['p50']:.2f}, "
        f"p99 {on['p99'] / off['p99']:.2f}"
    )


if __name__ == "__main__":
    main()
