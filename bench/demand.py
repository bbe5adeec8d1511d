"""What demand control and automatic persisted queries cost the router, on against off.

    python -m bench.demand
    python -m bench.demand --batches 80 --batch 25

The router's HTTP app runs in this process (httpx's ASGI transport, no sockets) over the
bench supergraph, whose subgraphs run as a separate process on a loopback port, so the CPU
time this process spends per request is the router's (plus the client's, the same in every
setting). Per query (`flat`: one fetch of 50 orders; `deep`: three sequential fetches with
nested lists) it sends batches of `--batch` requests in each setting in turn:

- off: the query's text, no demand control;
- cost: demand control as the gateway runs it: estimated against a budget out of reach,
  the actual cost measured, each report recorded in a `CostLedger`;
- apq: only the query's hash (`extensions.persistedQuery`), registered once before;
- both: cost and apq together.

The order of the settings rotates from batch to batch, so a busy machine's drift spreads
over all of them; it prints the CPU time per request of each and its ratio to off. It also
times the cost calculation alone: a document's compiled cost estimated (per request) and
measured against its answer.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import time
from typing import Any

import httpx
import orjson

from bench import schemas
from bench.abuse import BENCH_DIR, _free_port, subgraph_server
from federation.router import HttpTransport, RequestOptions, Router, Supergraph, build_app
from federation.router.cost import CostControl
from policies.cost_ledger import CostLedger

SETTINGS = ("off", "cost", "apq", "both")


def options_for(setting: str, ledger: CostLedger) -> RequestOptions:
    if setting in ("cost", "both"):

        def observe(report: Any) -> None:
            ledger.record("bench", report)

        return RequestOptions(cost=CostControl(max_cost=1e12, observe=observe))
    return RequestOptions()


def body_for(setting: str, query: str) -> bytes:
    if setting in ("apq", "both"):
        digest = hashlib.sha256(query.encode()).hexdigest()
        return orjson.dumps(
            {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}}
        )
    return orjson.dumps({"query": query})


async def cpu_per_request(
    router: Router, query: str, batches: int, batch: int, ledger: CostLedger
) -> dict[str, float]:
    """Microseconds of this process's CPU per request, per setting: batches of ``batch``
    requests in turn (the order rotating), so a machine's drift spreads over every setting."""
    headers = {"content-type": "application/json", "accept": "application/graphql-response+json"}
    digest = hashlib.sha256(query.encode()).hexdigest()
    registration = {
        "query": query,
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}},
    }
    clients = {
        setting: httpx.AsyncClient(
            transport=httpx.ASGITransport(
                app=build_app(router, options=options_for(setting, ledger))
            ),
            base_url="http://gateway",
        )
        for setting in SETTINGS
    }
    spent = dict.fromkeys(SETTINGS, 0.0)
    try:
        for setting, client in clients.items():
            await client.post("/graphql", content=orjson.dumps(registration), headers=headers)
            for _ in range(20):  # warm: plan cached, connections open
                await client.post("/graphql", content=body_for(setting, query), headers=headers)
        for number in range(batches):
            order = SETTINGS[number % 4 :] + SETTINGS[: number % 4]
            for setting in order:
                client, body = clients[setting], body_for(setting, query)
                started = time.process_time()
                for _ in range(batch):
                    answer = await client.post("/graphql", content=body, headers=headers)
                    if answer.status_code != 200 or "errors" in answer.json():
                        raise RuntimeError(f"{setting}: {answer.text[:200]}")
                spent[setting] += time.process_time() - started
    finally:
        for client in clients.values():
            await client.aclose()
    return {setting: total / (batches * batch) * 1e6 for setting, total in spent.items()}


def calculation_alone(
    router: Router, query: str, data: Any, repeat: int = 2000
) -> tuple[float, float]:
    """Microseconds to estimate the compiled cost, and to measure it against ``data``."""
    cost = router.prepare(query).cost
    assert cost is not None
    started = time.perf_counter()
    for _ in range(repeat):
        cost.estimate({})
    estimate_us = (time.perf_counter() - started) / repeat * 1e6
    started = time.perf_counter()
    for _ in range(repeat // 10):
        cost.actual(data, {})
    actual_us = (time.perf_counter() - started) / (repeat // 10) * 1e6
    return estimate_us, actual_us


async def run(arguments: argparse.Namespace) -> None:
    supergraph = Supergraph.from_sdl((BENCH_DIR / "supergraph.graphql").read_text())
    with subgraph_server(_free_port()) as url:
        transports = {
            name: HttpTransport(name, f"{url}/{name}", deduplicate=False)
            for name in schemas.SUBGRAPHS
        }
        router = Router(supergraph, transports=transports)
        ledger = CostLedger()
        try:
            for name, query in schemas.QUERIES.items():
                medians = await cpu_per_request(
                    router, query, arguments.batches, arguments.batch, ledger
                )
                off = medians["off"]
                print(
                    f"{name:>5}: "
                    + ", ".join(
                        f"{setting} {value:.0f} us/request ({value / off:.3f})"
                        for setting, value in medians.items()
                    ),
                    flush=True,
                )
                answer = await router.execute(query)
                estimate_us, actual_us = calculation_alone(router, query, answer["data"])
                cost = router.prepare(query).cost
                assert cost is not None
                print(
                    f"{name:>5}: estimated cost {cost.estimate({}).cost}, actual "
                    f"{cost.actual(answer['data'], {})}; estimate {estimate_us:.2f} us, "
                    f"actual {actual_us:.1f} us per request",
                    flush=True,
                )
        finally:
            await router.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=40, help="batches per setting")
    parser.add_argument("--batch", type=int, default=25, help="requests per batch")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
