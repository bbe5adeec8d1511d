"""The ``logistics-gateway`` command.

Each subcommand is one ``add_<name>_command(subparsers)`` function that registers its parser
and sets ``handler``; ``main`` only dispatches. ``serve`` runs the federation router over
any supergraph; ``run``, ``demo`` and ``compose`` live in ``gateway.commands``, ``keys`` in
``gateway.keys_command``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import orjson

from federation.router.limits import DEFAULT_LIMITS, OperationLimits
from gateway.commands import (
    add_compose_command,
    add_demo_command,
    add_run_command,
    add_workers_argument,
    workers_problem,
)
from gateway.keys_command import add_keys_command
from gateway.operator import add_admin_command
from gateway.schema_command import add_schema_command
from gateway.workers import SERVE_ARGUMENTS_VARIABLE, WORKER_START_S


def add_serve_command(subparsers: argparse._SubParsersAction) -> None:
    """``serve``: the federation router over HTTP for one supergraph."""
    parser = subparsers.add_parser(
        "serve",
        help="serve a supergraph over GraphQL over HTTP",
        description="Serve an Apollo Federation v2 supergraph at /graphql (health: /health).",
    )
    parser.add_argument("--supergraph", required=True, type=Path, help="supergraph SDL file")
    parser.add_argument("--port", type=int, default=4000)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--subgraph",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="override a subgraph location: http(s)://... or inproc:module:attribute",
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="per-subgraph request timeout in seconds"
    )
    parser.add_argument(
        "--override-label",
        action="append",
        default=[],
        metavar="LABEL",
        help="enable a progressive @override label",
    )
    parser.add_argument(
        "--no-deduplication",
        action="store_true",
        help="send every subgraph fetch, even when an identical one is in flight",
    )
    parser.add_argument(
        "--limit",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="change an operation limit, e.g. max_depth=30 ('none' lifts it); defaults: "
        + ", ".join(f"{name}={value}" for name, value in asdict(DEFAULT_LIMITS).items()),
    )
    parser.add_argument("--log-level", default="warning")
    add_workers_argument(parser)
    parser.set_defaults(handler=_serve)


def _parse_limits(items: Sequence[str]) -> OperationLimits:
    """``--limit`` values over the router's defaults; a bad name or value stops the command."""
    known = asdict(DEFAULT_LIMITS)
    chosen: dict[str, int | None] = {}
    for item in items:
        name, _, value = item.partition("=")
        name, value = name.strip(), value.strip().lower()
        if name not in known:
            raise SystemExit(f"--limit: unknown limit {name!r}; known: {', '.join(known)}")
        if value == "none":
            chosen[name] = None
        elif value.isdigit():
            chosen[name] = int(value)
        else:
            raise SystemExit(f"--limit {name}: expects a whole number or 'none', got {value!r}")
    return OperationLimits(**{**known, **chosen})


def _parse_locations(items: Sequence[str]) -> dict[str, str]:
    locations: dict[str, str] = {}
    for item in items:
        name, separator, location = item.partition("=")
        if not separator or not name or not location:
            raise SystemExit(f"--subgraph expects NAME=URL, got {item!r}")
        locations[name.strip()] = location.strip()
    return locations


def router_app(arguments: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The router's ASGI app for `serve`'s arguments; raises `OSError`/`SupergraphError`."""
    from federation.router import Router, Supergraph, build_app

    supergraph = Supergraph.from_sdl(arguments.supergraph.read_text())
    router = Router(
        supergraph,
        subgraphs=_parse_locations(arguments.subgraph),
        timeout=arguments.timeout,
        enabled_override_labels=frozenset(arguments.override_label),
        deduplicate_fetches=not arguments.no_deduplication,
        limits=_parse_limits(arguments.limit),
    )
    return build_app(router)


def _serve(arguments: argparse.Namespace) -> int:
    import uvicorn

    from federation.router import SupergraphError

    if (problem := workers_problem(arguments.workers)) is not None:
        print(problem, file=sys.stderr)
        return 2
    try:
        app = router_app(arguments)
    except (OSError, SupergraphError) as error:
        print(f"cannot load supergraph {arguments.supergraph}: {error}", file=sys.stderr)
        return 2
    served = dict(
        host=arguments.host,
        port=arguments.port,
        log_level=arguments.log_level,
        access_log=False,
        loop="uvloop",
        http="httptools",
    )
    if arguments.workers > 1:  # each worker builds the same router from the same arguments
        os.environ[SERVE_ARGUMENTS_VARIABLE] = orjson.dumps(
            {
                "supergraph": os.path.abspath(arguments.supergraph),
                "subgraph": arguments.subgraph,
                "timeout": arguments.timeout,
                "override_label": arguments.override_label,
                "no_deduplication": arguments.no_deduplication,
                "limit": arguments.limit,
            }
        ).decode()
        uvicorn.run(
            "gateway.workers:serve_worker_app",
            factory=True,
            workers=arguments.workers,
            timeout_worker_healthcheck=WORKER_START_S,
            **served,
        )
        return 0
    uvicorn.run(app, **served)
    return 0


#: Subcommand registrars, in help order.
_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    add_serve_command,
    add_run_command,
    add_demo_command,
    add_compose_command,
    add_schema_command,
    add_keys_command,
    add_admin_command,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="logistics-gateway", description="GraphQL federation gateway for logistics."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in _COMMANDS:
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point."""
    parser = build_parser()
    arguments = parser.parse_args(argv)
    handler = getattr(arguments, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    return int(handler(arguments) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
