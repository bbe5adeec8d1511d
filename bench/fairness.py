"""Fairness at the backends: one tenant floods the ERP through the gateway, another reads.

    python -m bench.fairness
    python -m bench.fairness --flood 780 --concurrency 40 --reads 20 [--fairness off]

`logistics-gateway demo` (the reference backends, the ERP allowing its key 20 requests a
second for everyone) on free ports, with client rate limits off so only the backends' shares
decide. C-1001's portal sends `--flood` returns listings (each one ERP call) at
`--concurrency`; meanwhile C-1002's portal sends `--reads` of the same listing, one at a
time. Per tenant it prints the answers by outcome (ok, or the error code) and the slowest
C-1002 answer. `--fairness off` sets each tenant's share to the whole backend, as before
shares existed. Every run is bounded: the flood by its count, each request by a timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import tempfile
import time
from pathlib import Path

import httpx

from bench.demo import UNTHROTTLED, Gateway, demo_gateway

RETURNS = "{ returns(first: 20) { returns { id authorizedAt } } }"
FLOODER_KEY = "demo-key-c1001"
READER_KEY = "demo-key-c1002"
SHARES_OFF = {
    f"LG_BACKENDS__{name}__{key}": value
    for name in ("ERP", "WMS", "TMS")
    for key, value in (("TENANT_MAX_CONCURRENCY", "10000"), ("MAX_REQUESTS_PER_S", "0"))
}


def outcome(answer: httpx.Response) -> str:
    if answer.status_code != 200:
        return f"HTTP {answer.status_code}"
    errors = answer.json().get("errors")
    if not errors:
        return "ok"
    return str((errors[0].get("extensions") or {}).get("code", "ERROR"))


async def ask(client: httpx.AsyncClient, gateway: Gateway, key: str) -> tuple[str, float]:
    started = time.perf_counter()
    try:
        answer = await client.post(
            f"{gateway.url}/graphql", json={"query": RETURNS}, headers={"X-API-Key": key}
        )
        result = outcome(answer)
    except httpx.HTTPError as error:
        result = type(error).__name__
    return result, time.perf_counter() - started


async def run(gateway: Gateway, arguments: argparse.Namespace) -> None:
    limits = httpx.Limits(max_connections=arguments.concurrency + 4)
    async with httpx.AsyncClient(timeout=60.0, limits=limits) as client:
        assert (await ask(client, gateway, READER_KEY))[0] == "ok", "the reader's listing works"
        await asyncio.sleep(1.5)  # the ERP's one-second window is clear again
        queue: asyncio.Queue[int] = asyncio.Queue()
        for number in range(arguments.flood):
            queue.put_nowait(number)
        flood: collections.Counter[str] = collections.Counter()

        async def flooder() -> None:
            while not queue.empty():
                queue.get_nowait()
                flood[(await ask(client, gateway, FLOODER_KEY))[0]] += 1

        started = time.perf_counter()
        workers = [asyncio.create_task(flooder()) for _ in range(arguments.concurrency)]
        await asyncio.sleep(1.0)  # the flood is under way
        reads: collections.Counter[str] = collections.Counter()
        slowest = 0.0
        for _ in range(arguments.reads):
            result, elapsed = await ask(client, gateway, READER_KEY)
            reads[result] += 1
            slowest = max(slowest, elapsed)
            await asyncio.sleep(arguments.pause)
        await asyncio.gather(*workers)
        took = time.perf_counter() - started
    print(f"C-1001 flood of {arguments.flood} in {took:.1f} s: {dict(flood)}")
    print(f"C-1002 reads: {dict(reads)}; slowest {slowest:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flood", type=int, default=780)
    parser.add_argument("--concurrency", type=int, default=40)
    parser.add_argument("--reads", type=int, default=20)
    parser.add_argument("--pause", type=float, default=0.2, help="seconds between reads")
    parser.add_argument("--fairness", choices=("on", "off"), default="on")
    arguments = parser.parse_args()
    overrides = dict(UNTHROTTLED)  # a copy: the shares may be added to it
    if arguments.fairness == "off":
        overrides |= SHARES_OFF
    with (
        tempfile.TemporaryDirectory(prefix="bench-fairness-") as folder,
        demo_gateway("sql", "", Path(folder), 120.0, overrides) as gateway,
    ):
        asyncio.run(run(gateway, arguments))


if __name__ == "__main__":
    main()
