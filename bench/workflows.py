"""Durable workflows completed per second.

Two measures:

- `--mode engine`: the engine alone, a definition of `--steps` steps that do nothing, so the
  figure is the engine's own cost (a row write and an event per change) on SQLite or
  PostgreSQL (`--database`);
- `--mode order-to-ship` (default): order-to-ship through the reference ERP, WMS and TMS,
  started here as processes on loopback (the ERP's rate limit raised, `--erp-rate-limit`):
  ten steps and about twenty backend calls per workflow.

    python -m bench.workflows --workflows 40 --concurrency 8
    python -m bench.workflows --mode engine --workflows 500 --database postgresql+asyncpg://…

Bounded: a fixed number of workflows and a time limit (`--timeout`); it prints how many
completed, workflows per second, and p50/p99 of each workflow's start-to-finish time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx

from process_apis.workflows.engine import (
    RetryPolicy,
    Step,
    StepInput,
    WorkflowDefinition,
    WorkflowEngine,
)
from process_apis.workflows.runner import WorkflowRunner
from process_apis.workflows.service import build_workflows
from stores import Stores, open_stores
from stores.workflows import WorkflowState
from system_apis import BackendSettings, SystemClients

BACKENDS = {"erp": "erp-demo-key", "wms": "wms-demo-token", "tms": "tms-demo-key"}
MATERIAL = "MAT-0001"
FINISHED = (WorkflowState.COMPLETED, WorkflowState.FAILED, WorkflowState.HELD)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def sandbox(folder: Path, erp_rate_limit: float) -> Iterator[dict[str, str]]:
    """The ERP, WMS and TMS as processes on free loopback ports; their URLs by name."""
    processes, urls = [], {}
    try:
        for name in BACKENDS:
            port = free_port()
            command = [sys.executable, "-m", f"sandbox.{name}", "--port", str(port)]
            command += ["--db", str(folder / f"{name}.sqlite3")]
            if name == "erp":
                command += ["--rate-limit", str(erp_rate_limit)]
            processes.append(subprocess.Popen(command, stdout=subprocess.DEVNULL))
            urls[name] = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        for url in urls.values():
            while True:
                try:
                    if httpx.get(f"{url}/_admin/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{url} did not start")
                time.sleep(0.2)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


def clients_for(urls: Mapping[str, str]) -> SystemClients:
    settings = {
        name: BackendSettings(
            name=name,
            url=urls.get(name, "http://127.0.0.1:9"),
            credential=BACKENDS.get(name, ""),
            timeout_s=10.0,
            max_retries=2,
        )
        for name in ("erp", "wms", "tms", "swiftparcel", "roadline", "heritage")
    }
    return SystemClients.from_settings(**settings)


async def released_orders(urls: Mapping[str, str], count: int) -> list[str]:
    """New orders of C-1001, released to the warehouse."""
    headers = {"X-ERP-Key": BACKENDS["erp"]}
    body = {"sold_to": "C-1001", "items": [{"material": MATERIAL, "qty": 1}]}
    async with httpx.AsyncClient(base_url=urls["erp"], headers=headers, timeout=30) as client:
        orders = []
        for _ in range(count):
            created = await client.post("/api/v1/sales-orders", json=body)
            created.raise_for_status()
            doc_no = created.json()["doc_no"]
            advanced = await client.post("/_admin/advance", json={"reference": doc_no, "steps": 1})
            advanced.raise_for_status()
            orders.append(doc_no)
    return orders


def noop_definition(steps: int) -> WorkflowDefinition:
    async def nothing(given: StepInput) -> Mapping[str, Any]:
        return {"step": given.step}

    return WorkflowDefinition("bench", tuple(Step(f"step_{n}", nothing) for n in range(steps)))


async def measure(
    engine: WorkflowEngine,
    stores: Stores,
    kind: str,
    subjects: list[str],
    inputs_of: Any,
    concurrency: int,
    timeout_s: float,
) -> None:
    runner = WorkflowRunner(
        engine, stores.leases, stores.holder_id, poll_s=0.05, concurrency=concurrency
    )
    counts = await stores.workflows.counts()
    done_before = sum(counts.get(state.value, 0) for state in FINISHED)
    stop = asyncio.Event()
    began = time.monotonic()
    running = asyncio.create_task(runner.run(stop))
    ids = []
    for subject in subjects:
        record, _ = await engine.start(
            kind, subject, inputs_of(subject), tenant_id=None, correlation_id="bench"
        )
        ids.append(record.workflow_id)
    finished: dict[str, Any] = {}
    try:
        while len(finished) < len(ids) and time.monotonic() - began < timeout_s:
            await asyncio.sleep(0.2)
            counts = await stores.workflows.counts()
            if sum(counts.get(state.value, 0) for state in FINISHED) - done_before < len(ids):
                continue
            for workflow_id in ids:
                record = await stores.workflows.get(workflow_id)
                if record is not None and record.state in FINISHED:
                    finished[workflow_id] = record
    finally:
        elapsed = time.monotonic() - began
        stop.set()
        await running
    if len(finished) < len(ids):
        for workflow_id in ids:
            record = await stores.workflows.get(workflow_id)
            if record is not None and record.state in FINISHED:
                finished[workflow_id] = record
    completed = [r for r in finished.values() if r.state is WorkflowState.COMPLETED]
    durations = sorted((r.updated_at - r.created_at).total_seconds() for r in completed)
    print(f"workflows started      {len(ids)}")
    print(
        f"completed              {len(completed)}  (other ends: {len(finished) - len(completed)})"
    )
    print(f"elapsed                {elapsed:.2f} s")
    print(f"completed per second   {len(completed) / elapsed:.2f}")
    if durations:
        p99 = durations[min(len(durations) - 1, int(len(durations) * 0.99))]
        print(f"start to finish        p50 {statistics.median(durations):.3f} s  p99 {p99:.3f} s")
    for record in list(finished.values())[:3]:
        if record.state is not WorkflowState.COMPLETED:
            print(f"  e.g. {record.workflow_id}: {record.state.value} {record.reason}")


@contextlib.asynccontextmanager
async def opened(database: str | None, folder: Path) -> AsyncIterator[Stores]:
    stores = await open_stores(database or f"sqlite+aiosqlite:///{folder / 'bench.sqlite3'}")
    try:
        yield stores
    finally:
        await stores.close()


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-workflows-") as name:
        folder = Path(name)
        async with opened(args.database, folder) as stores:
            if args.mode == "engine":
                definition = noop_definition(args.steps)
                engine = WorkflowEngine(stores.workflows, stores.event_log, {"bench": definition})
                run = uuid.uuid4().hex[:8]
                subjects = [f"B{run}-{n}" for n in range(args.workflows)]
                print(f"engine only: {args.steps} no-op steps per workflow")
                await measure(
                    engine, stores, "bench", subjects, lambda s: {}, args.concurrency, args.timeout
                )
                return
            with sandbox(folder, args.erp_rate_limit) as urls:
                orders = await released_orders(urls, args.workflows)
                async with clients_for(urls) as clients:
                    workflows = build_workflows(
                        clients, stores, retry_policy=RetryPolicy(initial_s=0.2, max_s=2.0)
                    )
                    print("order-to-ship through the reference ERP, WMS and TMS")
                    await measure(
                        workflows.engine,
                        stores,
                        "order-to-ship",
                        orders,
                        lambda order: {"order_id": order},
                        args.concurrency,
                        args.timeout,
                    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.workflows", description=__doc__)
    parser.add_argument("--mode", choices=("order-to-ship", "engine"), default="order-to-ship")
    parser.add_argument("--workflows", type=int, default=40)
    parser.add_argument("--steps", type=int, default=10, help="engine mode: steps per workflow")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--erp-rate-limit", type=float, default=500.0)
    parser.add_argument("--database", default=None, help="SQLAlchemy URL (default: SQLite)")
    args = parser.parse_args()
    if not 1 <= args.workflows <= 10_000 or not 1 <= args.concurrency <= 64:
        parser.error("--workflows 1..10000, --concurrency 1..64")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
