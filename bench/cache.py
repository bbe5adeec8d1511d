"""What the response cache saves: the same portal reads answered from the cache (hits) and
computed (misses), through a real gateway.

    python -m bench.cache
    python -m bench.cache --rounds 5 --orders 60

It starts `logistics-gateway demo` with `[cache] enabled`, waits until the orders read model
lists C-1001's orders, then per round, for each query:

- miss: one read per order, each order's first read in the round (a new variable value, so
  no answer or entity is kept yet): the router plans nothing new, but fetches everything;
- hit: the same reads again, each answered from the response cache.

`order` asks one order with its lines, shipments and invoices (the invoices cost an ERP call
on a miss); `page` asks the newest orders (5 to 24 of them, one size per read) with the same
(one ERP listing on a miss). A
round runs after the previous round's answers aged out (`[cache] types` keeps them
`--age` seconds). Paced, one read at a time: latency p50 and p99 per kind, and the hit/miss
ratios of the medians over rounds. Everything listens on loopback; bounded by the counts.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bench.demo import Gateway, demo_gateway
from bench.read_models import TENANT_KEY, percentile, wait_for_read_model

ORDER = """query($id: ID!) { order(id: $id) {
  id status orderedOn lines { lineNumber quantity { value unit } item { sku } }
  shipments { trackingNumber status current { carrierCode } }
  invoices { id gross { amount currency } } } }"""
PAGE = """query($first: Int!) { orders(first: $first) { nextCursor orders {
  id status lines { lineNumber quantity { value unit } }
  shipments { trackingNumber status } invoices { id gross { amount } } } } }"""

LISTING = "query($after: String) { orders(first: 20, after: $after) { nextCursor orders { id } } }"


async def ask(client: httpx.AsyncClient, gateway: Gateway, query: str, variables: dict) -> float:
    began = time.perf_counter()
    answer = await client.post(
        f"{gateway.url}/graphql",
        json={"query": query, "variables": variables},
        headers={"X-API-Key": TENANT_KEY},
    )
    took = (time.perf_counter() - began) * 1000
    body = answer.json()
    if answer.status_code != 200 or body.get("errors"):
        raise SystemExit(f"a read failed: {answer.status_code} {answer.text[:300]}")
    return took


async def order_ids(client: httpx.AsyncClient, gateway: Gateway, count: int) -> list[str]:
    ids: list[str] = []
    after = None
    while len(ids) < count:
        answer = await client.post(
            f"{gateway.url}/graphql",
            json={"query": LISTING, "variables": {"after": after}},
            headers={"X-API-Key": TENANT_KEY},
        )
        page = answer.json()["data"]["orders"]
        ids += [order["id"] for order in page["orders"]]
        after = page["nextCursor"]
        if after is None:
            break
    return ids[:count]


async def measure(gateway: Gateway, arguments: argparse.Namespace) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {}
    async with httpx.AsyncClient(timeout=30.0) as client:
        await wait_for_read_model(client, gateway, 120.0)
        ids = await order_ids(client, gateway, arguments.orders)
        for number in range(1, arguments.rounds + 1):
            await asyncio.sleep(arguments.age + 0.5)  # the last round's answers aged out
            runs = {
                "order": [(ORDER, {"id": order_id}) for order_id in ids],
                "page": [(PAGE, {"first": 5 + n}) for n in range(arguments.pages)],
            }
            for name, reads in runs.items():
                for kind in ("miss", "hit"):
                    latencies = [await ask(client, gateway, q, v) for q, v in reads]
                    key = f"{name} {kind}"
                    figures.setdefault(f"{key} p50", []).append(statistics.median(latencies))
                    figures.setdefault(f"{key} p99", []).append(percentile(latencies, 0.99))
                    print(
                        f"round {number} {key}: p50 {statistics.median(latencies):.2f} ms "
                        f"p99 {percentile(latencies, 0.99):.2f} ms ({len(latencies)} reads)",
                        flush=True,
                    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--orders", type=int, default=40, help="distinct orders read per round")
    parser.add_argument("--pages", type=int, default=20, help="distinct page sizes per round")
    parser.add_argument("--age", type=int, default=5, help="seconds an answer is kept")
    arguments = parser.parse_args()
    age = arguments.age
    overrides = {
        "LG_CACHE__ENABLED": "true",
        "LG_THROTTLING__ENABLED": "false",  # a paced client still passes the demo's rate limit
        "LG_CACHE__TYPES": (
            f'{{"Order": {age}, "OrderPage": {age}, "Shipment": {age}, "Invoice": {age}}}'
        ),
    }
    with (
        tempfile.TemporaryDirectory(prefix="bench-cache-") as folder,
        demo_gateway("sql", "", Path(folder), 120.0, overrides) as gateway,
    ):
        figures = asyncio.run(measure(gateway, arguments))
    median = {key: statistics.median(values) for key, values in figures.items()}
    for name in ("order", "page"):
        miss, hit = median[f"{name} miss p50"], median[f"{name} hit p50"]
        miss99, hit99 = median[f"{name} miss p99"], median[f"{name} hit p99"]
        print(
            f"{name}: miss p50 {miss:.2f} ms p99 {miss99:.2f} ms; hit p50 {hit:.2f} ms "
            f"p99 {hit99:.2f} ms; hit/miss p50 {hit / miss:.2f}, p99 {hit99 / miss99:.2f}"
        )


if __name__ == "__main__":
    main()
