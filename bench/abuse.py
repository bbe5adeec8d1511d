"""Abuse documents against the router: what each costs the gateway and how it is answered.

Every document fits the 1 MB body limit. Each is sent once, through the router's HTTP app,
to a fresh router (nothing cached) over the bench supergraph, whose subgraphs run as a
separate process on a loopback port. Per document it prints the answer's status, the
longest stall of the event loop while the request was served (a task that keeps yielding
measures it, in wall time and in CPU time), the peak memory the request added (tracemalloc,
in a second run, since tracing slows Python down) and how many subgraph calls it caused.
The goal: no document holds the loop longer than 50 ms (of CPU: on a shared machine wall
time also counts waiting for a core) or adds more than 20 MB.

Run: python -m bench.abuse [--limits off] [--only NAME] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench import schemas
from federation.router import HttpTransport, Router, SubgraphRequest, Supergraph, build_app
from federation.router.limits import OperationLimits
from federation.router.transports.base import Transport

BENCH_DIR = Path(__file__).resolve().parent
BODY_LIMIT = 1_000_000
LOOP_GOAL_MS = 50.0
MEMORY_GOAL_MB = 20.0


def _fill(head: str, unit: str, tail: str, size: int = BODY_LIMIT - 1_000) -> str:
    """``head`` + ``unit`` repeated + ``tail``, as long as fits ``size`` characters."""
    return head + unit * ((size - len(head) - len(tail)) // len(unit)) + tail


def fragment_bomb(levels: int) -> str:
    """Fragments that each spread the previous one twice: 2**levels fields when expanded."""
    lines = [f"query Bomb {{ orders {{ ...F{levels} }} }}", "fragment F0 on Order { id number }"]
    lines += [f"fragment F{i} on Order {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, levels + 1)]
    return "\n".join(lines)


def root_aliases(count: int) -> str:
    """Aliases of one backend field at the root: each is another order to fetch."""
    return "{ " + " ".join(f"a{i}: order(id: {i}) {{ id }}" for i in range(count)) + " }"


def aliases(count: int) -> str:
    return "{ orders { " + " ".join(f"a{i}: number" for i in range(count)) + " } }"


def alias_flood() -> str:
    parts, size = [], 4
    while size < BODY_LIMIT - 2_000:
        parts.append(f"a{len(parts)}: order(id: 1) {{ id }}")
        size += len(parts[-1]) + 1
    return "{ " + " ".join(parts) + " }"


def deep(levels: int) -> str:
    return "{ " + "orders { " * levels + "id" + " }" * levels + " }"


def root_fields(count: int) -> str:
    return "{ " + "orders { id } " * count + "}"


def wide(fields: int) -> str:
    names = ("id", "number", "customer", "total", "currency", "createdAt")
    return "{ orders { " + " ".join(names[i % len(names)] for i in range(fields)) + " } }"


def documents() -> dict[str, str]:
    """Name -> document; the limits' neighbourhood first, then the floods of the body limit."""
    return {
        "bench deep query": schemas.DEEP_QUERY,
        "introspection": _introspection(),
        "fragment bomb 8 levels": fragment_bomb(8),
        "fragment bomb 16 levels": fragment_bomb(16),
        "fragment bomb 32 levels": fragment_bomb(32),
        "fragment bomb 1000 levels": fragment_bomb(1000),
        "fragment cycle": "{ orders { ...A } } fragment A on Order { ...B } "
        "fragment B on Order { ...A }",
        "20 aliased root fields": root_aliases(20),
        "30 aliases (at limit)": aliases(30),
        "31 aliases": aliases(31),
        "alias flood (1 MB)": alias_flood(),
        "deep nesting 40": deep(40),
        "deep nesting 1 MB": _fill("{ ", "orders { ", ""),
        "20 root fields (at limit)": root_fields(20),
        "21 root fields": root_fields(21),
        "root fields flood (1 MB)": _fill("{ ", "orders { id } ", "}"),
        "wide field list (1000 fields)": wide(999),
        "1001 fields": wide(1_000),
        "huge token count (32 KB)": _fill("{ orders { ", "id ", "} }", 32_000),
        "huge token count (1 MB)": _fill("{ orders { ", "id ", "} }"),
        "repeated field merge": "{ " + "orders { id number } " * 400 + "}",
        "one field 990 times": "{ orders { " + "id " * 990 + "} }",
        "directives flood (32 KB)": _fill("{ orders ", "@skip(if: false) ", "{ id } }", 32_000),
        "directives flood (1 MB)": _fill("{ orders ", "@skip(if: false) ", "{ id } }"),
        "long string (32 KB)": _fill('{ order(id: "', "x", '") { id } }', 32_000),
        "long string (1 MB)": _fill('{ order(id: "', "x", '") { id } }'),
        "comment (32 KB)": _fill("#", "x", "\n{ orders { id } }", 32_000),
        "comment (1 MB)": _fill("#", "x", "\n{ orders { id } }"),
        "whitespace (1 MB)": _fill("", " ", "{ orders { id } }"),
        "many operations (32 KB)": " ".join(
            f"query Q{i} {{ orders {{ id }} }}" for i in range(1_000)
        )[:32_000].rsplit(" query", 1)[0],
    }


def _introspection() -> str:
    from graphql import get_introspection_query

    return get_introspection_query(descriptions=True, directive_is_repeatable=True)


@dataclass(frozen=True)
class Outcome:
    name: str
    size: int
    status: int
    loop_wall_ms: float
    loop_cpu_ms: float
    peak_mb: float
    subgraph_calls: int
    message: str


class CountingTransport:
    """Counts the calls a document causes, then passes each to the transport it wraps."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.calls = 0

    async def execute(self, request: SubgraphRequest) -> dict[str, Any]:
        self.calls += 1
        return await self.inner.execute(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _longest_stall(stop: asyncio.Event) -> tuple[float, float]:
    """The longest time other work held the loop while this task kept yielding to it.

    Measured twice: in wall time, and in this thread's CPU time, which leaves out the time
    the process waited for a core on a shared machine.
    """
    longest_wall = longest_cpu = 0.0
    while not stop.is_set():
        wall, cpu = time.perf_counter(), time.thread_time()
        await asyncio.sleep(0)
        longest_wall = max(longest_wall, time.perf_counter() - wall)
        longest_cpu = max(longest_cpu, time.thread_time() - cpu)
    return longest_wall, longest_cpu


async def measure(
    supergraph: Supergraph,
    transports: dict[str, CountingTransport],
    limits: OperationLimits,
    name: str,
    document: str,
    repeat: int = 1,
) -> Outcome:
    """The median run of ``repeat`` (by loop CPU time), each on a fresh router."""
    body = orjson.dumps({"query": document})
    timings = []
    for _ in range(repeat):
        status, answer, calls, loop_wall_s, loop_cpu_s = await _serve_once(
            supergraph, transports, limits, body, _timed
        )
        timings.append((loop_cpu_s, loop_wall_s))
    loop_cpu_s, loop_wall_s = sorted(timings)[len(timings) // 2]
    tracemalloc.start()
    try:
        _, _, _, peak, _ = await _serve_once(supergraph, transports, limits, body, _traced)
    finally:
        tracemalloc.stop()
    errors = answer.get("errors") or [{}]
    message = errors[0].get("message", "") if status != 200 or "data" not in answer else "ok"
    return Outcome(
        name, len(body), status, loop_wall_s * 1e3, loop_cpu_s * 1e3, peak / 1e6, calls, message
    )


Send = Callable[[], Awaitable[httpx.Response]]
Measured = tuple[httpx.Response, float, float]


async def _timed(send: Send) -> Measured:
    """The longest loop stall while the request is served, in wall and in CPU time."""
    stop = asyncio.Event()
    stall = asyncio.create_task(_longest_stall(stop))
    await asyncio.sleep(0)  # the ticking task is waiting before the request starts
    response = await send()
    stop.set()
    wall, cpu = await stall
    return response, wall, cpu


async def _traced(send: Send) -> Measured:
    """The peak of memory allocated while the request is served."""
    tracemalloc.reset_peak()
    baseline = tracemalloc.get_traced_memory()[0]
    response = await send()
    return response, tracemalloc.get_traced_memory()[1] - baseline, 0.0


async def _serve_once(
    supergraph: Supergraph,
    transports: dict[str, CountingTransport],
    limits: OperationLimits,
    body: bytes,
    probe: Callable[[Send], Awaitable[Measured]],
) -> tuple[int, dict[str, Any], int, float, float]:
    """One request to a fresh router (nothing cached), measured by ``probe``.

    The transports are shared by every router of the run, so their connections to the
    subgraphs are open already and not part of what a document costs.
    """
    router = Router(supergraph, transports=transports, limits=limits)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=build_app(router)), base_url="http://gateway"
    )
    headers = {"content-type": "application/json", "accept": "application/graphql-response+json"}
    calls_before = sum(t.calls for t in transports.values())
    try:
        response, first, second = await probe(
            lambda: client.post("/graphql", content=body, headers=headers)
        )
    finally:
        await client.aclose()
    calls = sum(t.calls for t in transports.values()) - calls_before
    return response.status_code, response.json(), calls, first, second


@contextlib.contextmanager
def subgraph_server(port: int) -> Iterator[str]:
    """The bench subgraphs as a process on a loopback port."""
    env = {**os.environ, "BENCH_SUBGRAPH_PORT": str(port)}
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.subgraphs"],
        env=env,
        cwd=BENCH_DIR.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("bench subgraphs did not start")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # still busy with a flood (limits off)
            process.kill()
            process.wait()


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def print_table(outcomes: list[Outcome], out: Callable[[str], None] = print) -> None:
    out(
        f"{'document':30} {'bytes':>7} {'status':>6} {'loop ms':>8} {'loop cpu':>8} "
        f"{'peak MB':>7} {'calls':>5}  answer"
    )
    for o in outcomes:
        over = " OVER" if _over(o) else ""
        out(
            f"{o.name:30} {o.size:>7} {o.status:>6} {o.loop_wall_ms:>8.1f} {o.loop_cpu_ms:>8.1f} "
            f"{o.peak_mb:>7.2f} {o.subgraph_calls:>5}  {o.message[:72]}{over}"
        )


def _over(outcome: Outcome) -> bool:
    """Judged on CPU time: wall time also counts waiting for a core on a busy machine."""
    return outcome.loop_cpu_ms > LOOP_GOAL_MS or outcome.peak_mb > MEMORY_GOAL_MB


async def run(limits: OperationLimits, only: str | None, repeat: int) -> list[Outcome]:
    supergraph = Supergraph.from_sdl((BENCH_DIR / "supergraph.graphql").read_text())
    outcomes = []
    with subgraph_server(_free_port()) as url:
        transports = {
            name: CountingTransport(HttpTransport(name, f"{url}/{name}"))
            for name in schemas.SUBGRAPHS
        }
        try:
            await measure(supergraph, transports, limits, "warm-up", schemas.DEEP_QUERY)
            for name, document in documents().items():
                if only and only not in name:
                    continue
                outcomes.append(
                    await measure(supergraph, transports, limits, name, document, repeat)
                )
        finally:
            for transport in transports.values():
                await transport.aclose()
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.abuse", description=__doc__)
    parser.add_argument(
        "--limits", choices=("default", "off"), default="default", help="router limits"
    )
    parser.add_argument("--only", help="run only the documents whose name contains this")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per document; the median is shown"
    )
    arguments = parser.parse_args(argv)
    limits = OperationLimits() if arguments.limits == "default" else OperationLimits.unlimited()
    print("limits: " + ", ".join(f"{f.name}={getattr(limits, f.name)}" for f in fields(limits)))
    outcomes = asyncio.run(run(limits, arguments.only, max(1, arguments.repeat)))
    print_table(outcomes)
    over = [o.name for o in outcomes if _over(o)]
    print(
        f"goal: loop held <= {LOOP_GOAL_MS:.0f} ms of CPU, memory added <= "
        f"{MEMORY_GOAL_MB:.0f} MB; over: {over or 'none'}"
    )
    return 1 if over else 0


if __name__ == "__main__":
    raise SystemExit(main())
