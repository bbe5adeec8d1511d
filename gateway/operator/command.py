"""The `admin` subcommand tree and its one dispatcher: load the configuration, open the
stores, run the chosen action, close everything, and turn any refusal into its message and
exit code (never a traceback for a store that is out of reach)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from gateway.config import ConfigError, load_config
from gateway.keys_command import add_keys_command
from gateway.operator import dead_letters, read_models, reconciliation, workflows
from gateway.operator.console import MALFORMED, CommandError, error_console
from gateway.operator.context import UNREACHABLE, describe_stores, open_operator


def add_admin_command(subparsers: argparse._SubParsersAction) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", type=Path, help="configuration file (default: $LG_CONFIG, else gateway.toml)"
    )
    parser = subparsers.add_parser(
        "admin",
        help="operate a deployment: dead letters, read models, reconciliation, workflows, keys",
        description="Act on the stores the configuration names (the same file and LG_* "
        "variables the gateway reads). Exit codes: 0 done, 1 nothing there / not done, "
        "2 malformed input.",
    )
    actions = parser.add_subparsers(dest="area", metavar="AREA", required=True)
    for area in (dead_letters, read_models, reconciliation, workflows):
        area.register(actions, common)
    add_keys_command(actions)  # `admin keys …` is `keys …`: the same actions and handlers
    parser.set_defaults(handler=run_admin)


def run_admin(arguments: argparse.Namespace) -> int:
    errors = error_console()
    try:
        config = load_config(arguments.config)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return MALFORMED
    try:
        return asyncio.run(_run(config, arguments))
    except CommandError as error:
        errors.print(f"error: {error.message}", markup=False)
        return error.exit_code
    except UNREACHABLE as error:
        errors.print(
            f"error: a store did not answer ({describe_stores(config)}): {type(error).__name__}",
            markup=False,
        )
        return 1
    except KeyboardInterrupt:
        errors.print("interrupted", markup=False)
        return 130


async def _run(config, arguments: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    async with open_operator(config) as operator:
        return int(await arguments.run(operator, arguments))
