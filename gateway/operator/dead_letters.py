"""`admin dead-letters list | show | replay`: the payloads the gateway could not accept.

A replay goes through `WebhookIngress.replay_letter`, the path of the
`/admin/dead-letters/{id}/replay` route: the kept body is read by its source's reader and
stored like a fresh delivery, keyed by event id, so replaying twice, or replaying what a
sender meanwhile delivered again, adds nothing twice (those count as duplicates).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gateway.operator.console import (
    CommandError,
    console,
    malformed,
    print_json,
    table,
)
from gateway.operator.context import Operator
from gateway.operator.times import check_window, parse_instant
from gateway.webhooks import APPLIED, DUPLICATE, ReplayOutcome
from stores.dead_letters import DeadLetter

LETTER_ID = re.compile(r"dl_[0-9a-f]{32}")
SOURCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_REASON = 200
MAX_LIST = 1000
PAGE = 200
PREVIEW = 2000


def add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", help="only letters from this source (wms, swiftparcel, …)")
    parser.add_argument("--reason", help="only letters whose reason contains this text")
    parser.add_argument("--since", help="received at or after (2025-03-01T08:00Z, 2025-03-01, 6h)")
    parser.add_argument("--until", help="received before (same forms as --since)")


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    group = subparsers.add_parser(
        "dead-letters", help="inbound payloads that could not be accepted"
    ).add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = group.add_parser("list", parents=[common], help="list dead letters, newest first")
    add_filters(listing)
    state = listing.add_mutually_exclusive_group()
    state.add_argument("--replayed", action="store_true", help="only letters replayed already")
    state.add_argument("--pending", action="store_true", help="only letters never replayed")
    listing.add_argument("--limit", type=int, default=50, help=f"at most this many (≤{MAX_LIST})")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(run=list_letters)

    show = group.add_parser("show", parents=[common], help="one dead letter with its body")
    show.add_argument("letter_id", metavar="ID")
    show.add_argument("--json", action="store_true", help="print JSON instead of tables")
    show.set_defaults(run=show_letter)

    replay = group.add_parser(
        "replay",
        parents=[common],
        help="replay letters through their source's reader into the event log",
        description="Replay the named letters, or every letter the filters match (letters a "
        "replay accepted before are left out unless --again), or --all.",
    )
    replay.add_argument("letter_ids", metavar="ID", nargs="*")
    add_filters(replay)
    replay.add_argument("--all", action="store_true", help="every letter not yet accepted")
    replay.add_argument("--again", action="store_true", help="include letters accepted before")
    replay.set_defaults(run=replay_letters)


def _filters(arguments: argparse.Namespace) -> dict[str, Any]:
    source, reason = arguments.source, arguments.reason
    if source is not None and not SOURCE.fullmatch(source):
        raise malformed("--source: 1 to 64 letters, digits, '.', '_' or '-'")
    if reason is not None and not (0 < len(reason) <= MAX_REASON):
        raise malformed(f"--reason: 1 to {MAX_REASON} characters")
    since = None if arguments.since is None else parse_instant(arguments.since, "--since")
    until = None if arguments.until is None else parse_instant(arguments.until, "--until")
    check_window(since, until)
    return {"source": source, "reason": reason, "since": since, "until": until}


def _describe(filters: dict[str, Any]) -> str:
    parts = [
        f"{name} {value.isoformat() if isinstance(value, datetime) else value!r}"
        for name, value in filters.items()
        if value is not None
    ]
    return ", ".join(parts) or "no filter"


def _letter_id(text: str) -> str:
    if not LETTER_ID.fullmatch(text):
        raise malformed(f"{text[:80]!r} is not a dead letter id (dl_ and 32 hex digits)")
    return text


def summary(letter: DeadLetter) -> dict[str, Any]:
    return {
        "id": letter.dead_letter_id,
        "source": letter.source,
        "reason": letter.reason,
        "received_at": letter.received_at.isoformat(),
        "correlation_id": letter.correlation_id,
        "size": len(letter.body),
        "replayed_at": letter.replayed_at.isoformat() if letter.replayed_at else None,
        "replay_outcome": letter.replay_outcome,
    }


async def list_letters(operator: Operator, arguments: argparse.Namespace) -> int:
    filters = _filters(arguments)
    if not 1 <= arguments.limit <= MAX_LIST:
        raise malformed(f"--limit: a whole number from 1 to {MAX_LIST}")
    replayed = True if arguments.replayed else False if arguments.pending else None
    letters = await operator.stores.dead_letters.list(
        **filters, replayed=replayed, limit=arguments.limit
    )
    if arguments.json:
        print_json({"dead_letters": [summary(letter) for letter in letters]})
    elif letters:
        console().print(
            table(
                f"Dead letters ({_describe(filters)})",
                ("id", "source", "reason", "received", "bytes", "replayed"),
                (
                    (
                        letter.dead_letter_id,
                        letter.source,
                        letter.reason[:80],
                        letter.received_at.isoformat(timespec="seconds"),
                        len(letter.body),
                        letter.replay_outcome or "",
                    )
                    for letter in letters
                ),
            )
        )
    if not letters:
        raise CommandError(f"no dead letter matches ({_describe(filters)})")
    return 0


async def show_letter(operator: Operator, arguments: argparse.Namespace) -> int:
    letter_id = _letter_id(arguments.letter_id)
    letter = await operator.stores.dead_letters.get(letter_id)
    if letter is None:
        raise CommandError(f"no dead letter {letter_id}")
    body = letter.body.decode("utf-8", "replace")
    if arguments.json:
        print_json({**summary(letter), "headers": dict(letter.headers), "body": body})
        return 0
    out = console()
    details = summary(letter)
    out.print(table(f"Dead letter {letter_id}", ("field", "value"), details.items()))
    out.print(table("Headers", ("header", "value"), sorted(letter.headers.items())))
    cut = f" (first {PREVIEW} of {len(body)} characters)" if len(body) > PREVIEW else ""
    out.print(f"Body{cut}:")
    out.print(body[:PREVIEW], markup=False, highlight=False)
    return 0


async def _matching(operator: Operator, filters: dict[str, Any], again: bool) -> list[str]:
    """Ids of the letters the filters match, oldest first; letters a replay accepted before
    are left out unless `again`."""
    found: list[str] = []
    before: DeadLetter | None = None
    while True:
        page = await operator.stores.dead_letters.list(**filters, limit=PAGE, before=before)
        found += [
            letter.dead_letter_id
            for letter in page
            if again or not (letter.replay_outcome or "").startswith("accepted")
        ]
        if len(page) < PAGE:
            return found[::-1]
        before = page[-1]


async def replay_letters(operator: Operator, arguments: argparse.Namespace) -> int:
    filters = _filters(arguments)
    filtered = any(value is not None for value in filters.values())
    ids = [_letter_id(text) for text in arguments.letter_ids]
    if ids and (filtered or arguments.all):
        raise malformed("name letters by id, or select them with filters or --all, not both")
    if not ids and not filtered and not arguments.all:
        raise malformed(
            "name the letters to replay: ids, filters (--source, --reason, "
            "--since, --until) or --all"
        )
    if ids:
        letters = [await operator.stores.dead_letters.get(letter_id) for letter_id in ids]
        found = zip(ids, letters, strict=True)
        missing = [letter_id for letter_id, letter in found if letter is None]
        if missing:
            raise CommandError(f"no dead letter {', '.join(missing)}")
    else:
        ids = await _matching(operator, filters, arguments.again)
        if not ids:
            left_out = "" if arguments.again else " (letters accepted before are left out: --again)"
            raise CommandError(f"no dead letter to replay matches ({_describe(filters)}){left_out}")
    outcomes = await _replay_with_progress(operator, ids)
    return _report(outcomes)


async def _replay_with_progress(
    operator: Operator, ids: Sequence[str]
) -> list[tuple[str, ReplayOutcome]]:
    outcomes: list[tuple[str, ReplayOutcome]] = []
    progress = Progress(
        TextColumn("replaying"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console(),
    )
    with progress:
        task = progress.add_task("replay", total=len(ids))
        for letter_id in ids:
            letter = await operator.stores.dead_letters.get(letter_id)
            if letter is None:  # removed meanwhile
                outcome = ReplayOutcome("missing", message="no longer kept")
            else:
                outcome = await operator.ingress.replay_letter(letter)
            outcomes.append((letter_id, outcome))
            progress.advance(task)
    return outcomes


def _report(outcomes: Sequence[tuple[str, ReplayOutcome]]) -> int:
    counts = Counter(outcome.status for _, outcome in outcomes)
    failed = [(letter_id, o) for letter_id, o in outcomes if o.status not in (APPLIED, DUPLICATE)]
    out = console()
    out.print(
        table(
            "Replay",
            ("applied", "duplicates", "failed again", "events stored"),
            [
                (
                    counts[APPLIED],
                    counts[DUPLICATE],
                    len(failed),
                    sum(outcome.new for _, outcome in outcomes),
                )
            ],
        )
    )
    if failed:
        out.print(
            table(
                "Failed again",
                ("id", "outcome", "why"),
                ((letter_id, o.status, o.message) for letter_id, o in failed),
            )
        )
        return 1
    return 0
