"""How the operator commands speak: rich tables and progress on stdout, one-line problems on
stderr, and exit codes a script can act on (2: the command was given something malformed;
1: it was well-formed but names nothing there, matched nothing, or did not fully succeed)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

MALFORMED = 2
FAILED = 1

PIPE_WIDTH = 200
"""Columns when stdout is not a terminal (a pipe, a log): wide enough that ids are not
wrapped; `COLUMNS` overrides it."""


class CommandError(Exception):
    """Stops a command with `message` on stderr and `exit_code`."""

    def __init__(self, message: str, exit_code: int = FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def malformed(message: str) -> CommandError:
    return CommandError(message, MALFORMED)


def console() -> Console:
    width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else PIPE_WIDTH
    return Console(width=width, highlight=False, soft_wrap=False)


def error_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    shown = Table(title=title, title_justify="left")
    for column in columns:
        shown.add_column(column, overflow="fold")
    for row in rows:
        shown.add_row(*("" if value is None else str(value) for value in row))
    return shown


def print_json(value: Any) -> None:
    """Machine-readable output for `--json`: one JSON document on stdout."""
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")
