"""Side-by-side benchmark of our router against Apollo Gateway on the same supergraph.

Starts the shared subgraphs, both gateways (each a single process, as deployed), checks
every gateway's answer against the expected data, then runs alternating fixed-time load
rounds per query and prints each round plus medians and ours/apollo ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench import load, schemas

BENCH_DIR = Path(__file__).resolve().parent
SUPERGRAPH = BENCH_DIR / "supergraph.graphql"
PEER_SRC = BENCH_DIR / "peer"
PEER_DIR = BENCH_DIR / ".peer"
HOST = "127.0.0.1"
SUBGRAPH_PORT_IN_SDL = 4101


@dataclass(frozen=True)
class Sample:
    """One load run: which gateway, which query, which round, and what it measured."""

    gateway: str
    query: str
    round: int
    result: load.LoadResult
    cpu_ms_per_req: float
    """Gateway CPU time (all its processes) per request: robust to other load on the box."""
    subgraph_cpu_pct: float
    """Subgraph processes' CPU use during the run, in % of one core: flags a bottleneck."""


_TICK = os.sysconf("SC_CLK_TCK")


def _group_cpu_seconds(pgid: int) -> float:
    """User+system CPU seconds of every live process in a process group (Linux /proc)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / _TICK


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _ensure_peer() -> Path:
    """Install the Apollo peer into bench/.peer (gitignored) when missing or outdated."""
    PEER_DIR.mkdir(exist_ok=True)
    manifest = (PEER_SRC / "package.json").read_text()
    installed = PEER_DIR / "package.json"
    stale = not installed.exists() or installed.read_text() != manifest
    if stale or not (PEER_DIR / "node_modules" / "@apollo" / "gateway").is_dir():
        installed.write_text(manifest)
        _log("installing the Apollo peer (npm install in bench/.peer) ...")
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=PEER_DIR,
            check=True,
            timeout=900,
        )
    for name in ("gateway.mjs", "compose.mjs"):
        shutil.copyfile(PEER_SRC / name, PEER_DIR / name)
    return PEER_DIR


def compose(port: int = SUBGRAPH_PORT_IN_SDL) -> str:
    """Supergraph SDL of the bench subgraphs, composed by @apollo/composition."""
    peer = _ensure_peer()
    services = [
        {"name": name, "url": f"http://{HOST}:{port}/{name}", "sdl": sdl}
        for name, sdl in schemas.SUBGRAPHS.items()
    ]
    proc = subprocess.run(
        ["node", str(peer / "compose.mjs")],
        input=json.dumps(services),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if proc.returncode != 0:
        raise SystemExit(f"composition failed:\n{proc.stderr}")
    return proc.stdout


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    """Poll a health URL until 200, the process dies, or the timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{url}: process exited ({proc.returncode}), see {log}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"{url}: not healthy after {timeout:.0f}s, see {log}")


@contextlib.contextmanager
def _process(
    name: str, cmd: list[str], health: str, logdir: Path, cwd: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server for the duration of the block and stop it (its own group) afterwards."""
    log = logdir / f"{name}.log"
    env = {**os.environ, "NODE_ENV": "production"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env, start_new_session=True
        )
        try:
            _wait_http(health, proc, 60, log)
            _log(f"{name}: up (pid {proc.pid}, log {log})")
            yield proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)


def _check_answers(name: str, url: str) -> None:
    """A gateway that answers wrongly would be benchmarked on error paths: refuse to."""
    for qname, query in schemas.QUERIES.items():
        resp = httpx.post(url, json={"query": query}, timeout=10.0)
        body = resp.json()
        if (
            resp.status_code != 200
            or body.get("errors")
            or body.get("data") != (schemas.expected_data(qname))
        ):
            raise SystemExit(
                f"{name} answers {qname} wrongly (HTTP {resp.status_code}): "
                f"{json.dumps(body)[:800]}"
            )


def _run_load(kind: str, url: str, body: bytes, seconds: float, conns: int) -> load.LoadResult:
    if kind == "wrk":
        return load.run_wrk(url, body, seconds, conns)
    return load.run_python(url, body, seconds, conns)


def _fmt_row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(
        c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    )


def _report(samples: list[Sample], gateways: list[str], queries: list[str]) -> dict[str, Any]:
    """Print medians per gateway and query, and per-round-paired ours/apollo ratios."""
    summary: dict[str, Any] = {}
    widths = [6, 8, 10, 9, 9, 11, 11]
    print()
    print("median over rounds")
    head = ["query", "gateway", "req/s", "p50 ms", "p99 ms", "cpu ms/req", "subgraph %"]
    print(_fmt_row(head, widths))
    for q in queries:
        for g in gateways:
            ss = [s for s in samples if s.gateway == g and s.query == q]
            med = {
                "rps": statistics.median(s.result.rps for s in ss),
                "p50_ms": statistics.median(s.result.p50_ms for s in ss),
                "p99_ms": statistics.median(s.result.p99_ms for s in ss),
                "cpu_ms_per_req": statistics.median(s.cpu_ms_per_req for s in ss),
                "subgraph_cpu_pct": statistics.median(s.subgraph_cpu_pct for s in ss),
            }
            summary.setdefault(q, {})[g] = med
            cells = [q, g, f"{med['rps']:.0f}", f"{med['p50_ms']:.2f}", f"{med['p99_ms']:.2f}"]
            cells += [f"{med['cpu_ms_per_req']:.2f}", f"{med['subgraph_cpu_pct']:.0f}"]
            print(_fmt_row(cells, widths))
    if set(gateways) == {"ours", "apollo"}:
        print()
        print(
            "ours / apollo, median of per-round ratios "
            "(req/s >1, p99 <1 and cpu/req <1 favour ours)"
        )
        print(_fmt_row(["query", "req/s", "p99", "cpu/req"], [6, 8, 8, 8]))
        for q in queries:
            by_round: dict[int, dict[str, Sample]] = {}
            for s in samples:
                if s.query == q:
                    by_round.setdefault(s.round, {})[s.gateway] = s
            pairs = [r for r in by_round.values() if {"ours", "apollo"} <= r.keys()]

            rps = statistics.median(r["ours"].result.rps / r["apollo"].result.rps for r in pairs)
            p99 = statistics.median(
                r["ours"].result.p99_ms / r["apollo"].result.p99_ms for r in pairs
            )
            cpu = statistics.median(
                r["ours"].cpu_ms_per_req / max(r["apollo"].cpu_ms_per_req, 1e-9) for r in pairs
            )
            summary[q]["ratio"] = {"rps": rps, "p99": p99, "cpu_per_req": cpu}
            print(_fmt_row([q, f"{rps:.2f}", f"{p99:.2f}", f"{cpu:.2f}"], [6, 8, 8, 8]))
    return summary


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--duration", type=float, default=10.0, help="seconds per load run")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    p.add_argument("--concurrency", type=int, default=32, help="open connections")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of unmeasured load")
    p.add_argument("--only", choices=["ours", "apollo"], help="run one gateway")
    p.add_argument("--queries", default="flat,deep", help="comma list of: flat, deep")
    p.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto")
    p.add_argument("--subgraph-workers", type=int, default=1, help="uvicorn workers")
    p.add_argument("--subgraph-port", type=int, default=4101)
    p.add_argument("--ours-port", type=int, default=4102)
    p.add_argument("--apollo-port", type=int, default=4103)
    p.add_argument(
        "--ours-cmd",
        default=str(Path(sys.executable).parent / "logistics-gateway")
        + " serve --supergraph {supergraph} --port {port} --host 127.0.0.1",
        help="command starting our router; {supergraph} and {port} are filled in",
    )
    p.add_argument("--json", type=Path, help="also write all samples and medians here")
    p.add_argument(
        "--compose",
        action="store_true",
        help="recompose bench/supergraph.graphql with @apollo/composition and exit",
    )
    args = p.parse_args(argv)
    if not (1 <= args.rounds <= 20 and 1 <= args.duration <= 120 and args.concurrency >= 1):
        p.error("bounds: 1-20 rounds, 1-120 s per run, concurrency >= 1")
    args.queries = [q for q in args.queries.split(",") if q]
    if not set(args.queries) <= set(schemas.QUERIES):
        p.error(f"queries must be among {sorted(schemas.QUERIES)}")
    return args


def main(argv: list[str] | None = None) -> None:
    """Entry point of `python -m bench`."""
    args = _parse(argv)
    if args.compose:
        SUPERGRAPH.write_text(compose())
        _log(f"wrote {SUPERGRAPH}")
        return
    kind = args.loadgen
    if kind == "auto":
        kind = "wrk" if load.have_wrk() else "python"
    if kind == "wrk" and not load.have_wrk():
        raise SystemExit("wrk not found (apt-get install -y wrk) or use --loadgen python")
    gateways = [args.only] if args.only else ["ours", "apollo"]

    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    supergraph = workdir / "supergraph.graphql"
    supergraph.write_text(
        SUPERGRAPH.read_text().replace(
            f"{HOST}:{SUBGRAPH_PORT_IN_SDL}/", f"{HOST}:{args.subgraph_port}/"
        )
    )
    commands = {
        "ours": (
            args.ours_cmd.format(supergraph=supergraph, port=args.ours_port).split(),
            args.ours_port,
            None,
        ),
        "apollo": (
            ["node", "gateway.mjs", str(supergraph), str(args.apollo_port)],
            args.apollo_port,
            _ensure_peer() if "apollo" in gateways else None,
        ),
    }
    sub_cmd = [sys.executable, "-m", "uvicorn", "bench.subgraphs:app"]
    sub_cmd += ["--host", HOST, "--port", str(args.subgraph_port)]
    sub_cmd += ["--workers", str(args.subgraph_workers), "--log-level", "warning"]
    sub_cmd += ["--no-access-log", "--http", "httptools", "--loop", "uvloop"]
    _log(f"load generator: {kind}; logs in {workdir}")

    samples: list[Sample] = []
    with contextlib.ExitStack() as stack:
        sub = stack.enter_context(
            _process(
                "subgraphs",
                sub_cmd,
                f"http://{HOST}:{args.subgraph_port}/health",
                workdir,
                BENCH_DIR.parent,
            )
        )
        urls: dict[str, str] = {}
        pids: dict[str, int] = {}
        for g in gateways:
            cmd, port, cwd = commands[g]
            proc = stack.enter_context(
                _process(g, cmd, f"http://{HOST}:{port}/health", workdir, cwd)
            )
            pids[g] = proc.pid
            urls[g] = f"http://{HOST}:{port}/graphql"
            _check_answers(g, urls[g])
        bodies = {q: orjson.dumps({"query": schemas.QUERIES[q]}) for q in args.queries}
        if args.warmup > 0:
            for g in gateways:
                for q in args.queries:
                    _run_load(kind, urls[g], bodies[q], args.warmup, args.concurrency)
        for rnd in range(1, args.rounds + 1):
            for q in args.queries:
                order = gateways if rnd % 2 else list(reversed(gateways))
                for g in order:
                    cpu0 = _group_cpu_seconds(pids[g]), _group_cpu_seconds(sub.pid)
                    res = _run_load(kind, urls[g], bodies[q], args.duration, args.concurrency)
                    cpu1 = _group_cpu_seconds(pids[g]), _group_cpu_seconds(sub.pid)
                    cpu_ms = 1000 * (cpu1[0] - cpu0[0]) / max(res.requests, 1)
                    sub_pct = 100 * (cpu1[1] - cpu0[1]) / max(res.seconds, 1e-9)
                    samples.append(Sample(g, q, rnd, res, cpu_ms, sub_pct))
                    flag = "" if not (res.bad_status or res.socket_errors) else "  (errors!)"
                    print(
                        f"round {rnd} {q:5} {g:7} {res.rps:7.0f} req/s  "
                        f"p50 {res.p50_ms:7.2f} ms  p99 {res.p99_ms:7.2f} ms  "
                        f"cpu {cpu_ms:6.2f} ms/req  subgraphs {sub_pct:3.0f}% cpu  "
                        f"non-2xx {res.bad_status} sock-err {res.socket_errors}{flag}",
                        flush=True,
                    )
            for g in gateways:
                _check_answers(g, urls[g])
    summary = _report(samples, gateways, args.queries)
    print(
        f"\n{args.rounds} rounds x {args.duration:g}s, {args.concurrency} connections, "
        f"loadgen {kind}, subgraph workers {args.subgraph_workers}, {os.cpu_count()} CPUs"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "args": {k: str(v) for k, v in vars(args).items()},
                    "samples": [asdict(s) for s in samples],
                    "summary": summary,
                },
                indent=2,
            )
        )
    shutil.rmtree(workdir, ignore_errors=True)
