"""The ``logistics-gateway`` command.

Each subcommand is one ``add_<name>_command(subparsers)`` function that registers its parser
and sets ``handler``; ``main`` only dispatches. ``serve`` runs the federation router over
any supergraph; ``run``, ``demo`` and ``compose`` live in ``gateway.commands``, ``keys`` in
``gateway.keys_command``.

A subcommand's module is imported only when it is asked for (or for the whole help): the
gateway's own modules take seconds to import, and ``schema check`` or ``keys list`` in a CI
step or a script need a fraction of them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from federation.router.limits import OperationLimits


def add_serve_command(subparsers: argparse._SubParsersAction) -> None:
    """``serve``: the federation router over HTTP for one supergraph."""
    from federation.router.limits import DEFAULT_LIMITS
    from gateway.commands import add_workers_argument

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
    from federation.router.limits import DEFAULT_LIMITS, OperationLimits

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
    from gateway.commands import workers_problem
    from gateway.workers import SERVE_ARGUMENTS_VARIABLE, WORKER_START_S

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


#: Each subcommand's registrar (``module:function``), in help order.
_COMMANDS: dict[str, str] = {
    "serve": "gateway.cli:add_serve_command",
    "run": "gateway.commands:add_run_command",
    "demo": "gateway.commands:add_demo_command",
    "compose": "gateway.commands:add_compose_command",
    "schema": "gateway.schema_command:add_schema_command",
    "keys": "gateway.keys_command:add_keys_command",
    "admin": "gateway.operator:add_admin_command",
}


def _registrar(name: str) -> Callable[[argparse._SubParsersAction], None]:
    module, _, function = _COMMANDS[name].partition(":")
    return getattr(importlib.import_module(module), function)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Every subcommand's parser, or only the one named (importing only its module)."""
    parser = argparse.ArgumentParser(
        prog="logistics-gateway", description="GraphQL federation gateway for logistics."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in [only] if only in _COMMANDS else _COMMANDS:
        _registrar(name)(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point."""
    given = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(given[0] if given else None)
    arguments = parser.parse_args(given)
    handler = getattr(arguments, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    return int(handler(arguments) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
