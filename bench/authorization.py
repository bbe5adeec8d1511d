"""What authorization costs the router: the bench queries with and without access rules.

`python -m bench.authorization` runs two `serve` processes over the bench subgraphs: one on
the bench supergraph as it is, one on the same supergraph with `@requiresScopes` on a field
each query selects (`Order.customer`, `Shipment.carrier`, made nullable). `serve` callers are
anonymous, so every request to the second is filtered: its plan comes from the cache of
filtered operations, the field is answered null with its error. Rounds alternate between the
two; it prints req/s, p99 and the router's CPU per request, and the guarded/plain ratios.

Then, in process, the time `Router.authorize` adds per request: an operation no rule
applies to, one whose rules the caller meets (run as written), one filtered for the caller
(the filtered plan from the cache), and the same with a `@policy` decided per request.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

from bench import load, schemas
from bench.run import HOST, SUBGRAPH_PORT_IN_SDL, SUPERGRAPH, _group_cpu_seconds, _process
from federation.router import Router, Supergraph
from federation.router.authorization import AuthorizationContext

GUARDED_FIELDS = {"customer: String!": "flat", "carrier: String!": "deep"}
LINKS = '@link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION)'


def guarded_supergraph(sdl: str, rule: str = '@requiresScopes(scopes: [["bench:read"]])') -> str:
    """The bench supergraph with ``rule`` on the field each query selects."""
    for field in GUARDED_FIELDS:
        name = field.split(":")[0]
        sdl = sdl.replace(f"  {field}", f"  {name}: String {rule}", 1)
    link = '@link(url: "https://specs.apollo.dev/requiresScopes/v0.1", for: SECURITY)'
    link += '\n  @link(url: "https://specs.apollo.dev/policy/v0.1", for: SECURITY)'
    sdl = sdl.replace(LINKS, f"{LINKS}\n  {link}", 1)
    definitions = (
        "directive @requiresScopes(scopes: [[String!]!]!) on FIELD_DEFINITION | OBJECT\n"
        "directive @policy(policies: [[String!]!]!) on FIELD_DEFINITION | OBJECT\n"
    )
    return definitions + sdl


def _check(url: str, guarded: bool) -> None:
    for name, query in schemas.QUERIES.items():
        body = httpx.post(url, json={"query": query}, timeout=10).json()
        if not guarded:
            assert body == {"data": schemas.expected_data(name)}, body
            continue
        codes = {error["extensions"]["code"] for error in body.get("errors", [])}
        assert codes == {"UNAUTHORIZED_FIELD_OR_TYPE"}, body
        assert body["data"]["orders"], body


def _load(kind: str, url: str, body: bytes, seconds: float, concurrency: int) -> load.LoadResult:
    if kind == "wrk":
        return load.run_wrk(url, body, seconds, concurrency)
    return load.run_python(url, body, seconds, concurrency)


def run_load(args: argparse.Namespace) -> None:
    kind = "wrk" if load.have_wrk() else "python"
    workdir = Path(tempfile.mkdtemp(prefix="bench-authorization-"))
    plain_sdl = SUPERGRAPH.read_text().replace(
        f"{HOST}:{SUBGRAPH_PORT_IN_SDL}/", f"{HOST}:{args.subgraph_port}/"
    )
    files = {"plain": plain_sdl, "guarded": guarded_supergraph(plain_sdl)}
    ports = {"plain": args.port, "guarded": args.port + 1}
    gateway = str(Path(sys.executable).parent / "logistics-gateway")
    sub_cmd = [sys.executable, "-m", "uvicorn", "bench.subgraphs:app", "--host", HOST]
    sub_cmd += ["--port", str(args.subgraph_port), "--log-level", "warning", "--no-access-log"]
    results: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    with contextlib.ExitStack() as stack:
        stack.enter_context(
            _process(
                "subgraphs",
                sub_cmd,
                f"http://{HOST}:{args.subgraph_port}/health",
                workdir,
                SUPERGRAPH.parent.parent,
            )
        )
        pids, urls = {}, {}
        for name, sdl in files.items():
            path = workdir / f"{name}.graphql"
            path.write_text(sdl)
            cmd = [gateway, "serve", "--supergraph", str(path), "--port", str(ports[name])]
            cmd += ["--host", HOST, "--no-deduplication"]
            health = f"http://{HOST}:{ports[name]}/health"
            pids[name] = stack.enter_context(_process(name, cmd, health, workdir)).pid
            urls[name] = f"http://{HOST}:{ports[name]}/graphql"
            _check(urls[name], guarded=name == "guarded")
        for round_number in range(1, args.rounds + 1):
            order = list(files) if round_number % 2 else list(reversed(files))
            for query in schemas.QUERIES:
                body = orjson.dumps({"query": schemas.QUERIES[query]})
                for name in order:
                    before = _group_cpu_seconds(pids[name])
                    result = _load(kind, urls[name], body, args.duration, args.concurrency)
                    cpu_ms = 1000 * (_group_cpu_seconds(pids[name]) - before)
                    cpu_ms /= max(result.requests, 1)
                    results.setdefault((query, name), []).append(
                        (result.rps, result.p99_ms, cpu_ms)
                    )
                    print(
                        f"round {round_number} {query:5} {name:8} {result.rps:7.0f} req/s  "
                        f"p99 {result.p99_ms:7.2f} ms  cpu {cpu_ms:5.2f} ms/req  "
                        f"non-2xx {result.bad_status}",
                        flush=True,
                    )
    for query in schemas.QUERIES:
        plain, guarded = results[(query, "plain")], results[(query, "guarded")]
        ratios = [
            statistics.median(g[i] / p[i] for p, g in zip(plain, guarded, strict=True))
            for i in range(3)
        ]
        print(
            f"{query:5} guarded/plain: {ratios[0]:.2f}x req/s, {ratios[1]:.2f}x p99, "
            f"{ratios[2]:.2f}x cpu/request ({args.rounds} rounds x {args.duration:g}s, {kind})"
        )


async def _time(router: Router, query: str, context: AuthorizationContext, n: int) -> float:
    prepared = router.prepare(query)
    await router.authorize(prepared, context)
    started = time.perf_counter()
    for _ in range(n):
        if prepared.access is not None:
            await router.authorize(prepared, context)
    return (time.perf_counter() - started) / n * 1e6


def run_in_process(iterations: int) -> None:
    plain_sdl = SUPERGRAPH.read_text()
    rules = '@requiresScopes(scopes: [["bench:read"]]) @policy(policies: [["bench"]])'
    guarded = Router(Supergraph.from_sdl(guarded_supergraph(plain_sdl)))
    scoped_only = Router(Supergraph.from_sdl(guarded_supergraph(plain_sdl)))
    with_policy = Router(Supergraph.from_sdl(guarded_supergraph(plain_sdl, rules)))
    plain = Router(Supergraph.from_sdl(plain_sdl))
    anonymous = AuthorizationContext()
    holder = AuthorizationContext(True, frozenset({"bench:read"}))
    policy_holder = AuthorizationContext(True, frozenset({"bench:read"}), lambda names: names)
    query = schemas.QUERIES["deep"]
    cases = {
        "no rule applies": (plain, anonymous),
        "rules met, run as written": (scoped_only, holder),
        "filtered (cached)": (guarded, anonymous),
        "rules met, with a @policy decided": (with_policy, policy_holder),
    }
    for label, (router, context) in cases.items():
        micros = asyncio.run(_time(router, query, context, iterations))
        print(f"authorize, {label:36} {micros:6.2f} µs per request")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.authorization", description=__doc__)
    parser.add_argument("--duration", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--subgraph-port", type=int, default=4101)
    parser.add_argument("--port", type=int, default=4112)
    parser.add_argument("--iterations", type=int, default=20_000)
    parser.add_argument("--in-process-only", action="store_true")
    args = parser.parse_args(argv)
    if not (1 <= args.rounds <= 20 and 1 <= args.duration <= 120 and args.iterations <= 10**6):
        parser.error("bounds: 1-20 rounds, 1-120 s per run, at most 10^6 iterations")
    run_in_process(args.iterations)
    if not args.in_process_only:
        run_load(args)


if __name__ == "__main__":
    main()
