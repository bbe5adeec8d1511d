"""Instants as operators type them: `2025-03-01T08:00:00Z` (an offset is required: a time
without one means a different instant on every server), `2025-03-01` (midnight UTC), or an
age such as `90m`, `6h`, `2d` (that long before now)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from gateway.operator.console import CommandError, malformed

AGE = re.compile(r"(\d{1,6})([smhd])")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
MAX_TEXT = 64


def parse_instant(text: str, option: str, *, now: datetime | None = None) -> datetime:
    """The instant `text` names, aware and in UTC; a malformed one stops the command."""
    now = now or datetime.now(UTC)
    value = text.strip()
    if len(value) > MAX_TEXT:
        raise malformed(f"{option}: not a time (at most {MAX_TEXT} characters)")
    if match := AGE.fullmatch(value):
        try:
            return now - timedelta(**{UNITS[match.group(2)]: int(match.group(1))})
        except OverflowError as error:
            raise malformed(f"{option}: {value!r} reaches before the year 1") from error
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        instant = datetime.fromisoformat(value)
    except ValueError as error:
        raise malformed(
            f"{option}: {value!r} is not a time; give an ISO 8601 instant with its offset "
            "(2025-03-01T08:00:00Z), a date (2025-03-01, midnight UTC) or an age (90m, 6h, 2d)"
        ) from error
    if instant.tzinfo is None:
        raise malformed(
            f"{option}: {value!r} has no offset; add one (Z for UTC, or +02:00 and the like)"
        )
    return instant.astimezone(UTC)


def check_window(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and since >= until:
        raise CommandError("--since must be before --until", 2)
