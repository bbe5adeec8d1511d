"""The record of breaking schema changes accepted on purpose (``schema-changes.toml``).

A breaking change reaches clients only after someone decided it may: ``schema check
--accept --reason`` appends each breaking change it accepts here, with the reason and the
day, and writes the new public schema. The record is reviewed with the schema's diff, and
``schema check`` passes a breaking change whose id it lists, so a change can also be
accepted by hand before the schema is rewritten.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from federation.composition.changes import SchemaChange

HEADER = """\
# Breaking changes of the public schema (schema.graphql) accepted on purpose, oldest first.
# `logistics-gateway schema check --accept --reason "..."` appends each one it accepts, and
# `schema check` passes a breaking change whose id is listed here.
"""

MAX_REASON_LENGTH = 500
MAX_FILE_BYTES = 1_000_000
"""A record of accepted changes is a few kilobytes; anything near this is not one."""


class AcceptedChangesError(ValueError):
    """The file cannot be read as a record of accepted changes; the message says where."""


@dataclass(frozen=True, slots=True)
class AcceptedChange:
    id: str
    reason: str


def read_accepted(path: Path) -> dict[str, AcceptedChange]:
    """The accepted changes by id; none when the file does not exist."""
    if not path.is_file():
        return {}
    if path.stat().st_size > MAX_FILE_BYTES:
        raise AcceptedChangesError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
    try:
        content = tomllib.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise AcceptedChangesError(f"{path}: not valid TOML: {error}") from None
    entries = content.get("accepted", [])
    unknown = set(content) - {"accepted"}
    if unknown:
        raise AcceptedChangesError(f"{path}: unknown key {sorted(unknown)[0]!r}")
    if not isinstance(entries, list):
        raise AcceptedChangesError(f"{path}: accepted must be an array of tables ([[accepted]])")
    accepted = {}
    for position, entry in enumerate(entries, start=1):
        where = f"{path}: accepted entry {position}"
        if not isinstance(entry, dict):
            raise AcceptedChangesError(f"{where} is not a table")
        change_id, reason = entry.get("id"), entry.get("reason")
        if not isinstance(change_id, str) or not change_id:
            raise AcceptedChangesError(f"{where}: id must be a non-empty string")
        if not isinstance(reason, str) or not reason.strip():
            raise AcceptedChangesError(f"{where} ({change_id}): reason must be given")
        accepted[change_id] = AcceptedChange(change_id, reason)
    return accepted


def check_reason(reason: str | None) -> str:
    """The reason given for accepting breaking changes, checked; raises ``ValueError``."""
    text = (reason or "").strip()
    if not text:
        raise ValueError(
            "accepting a breaking change needs --reason: who was told, or why no client breaks"
        )
    if len(text) > MAX_REASON_LENGTH or not text.isprintable():
        raise ValueError(
            f"--reason must be printable text of at most {MAX_REASON_LENGTH} characters"
        )
    return text


def append_accepted(
    path: Path,
    changes: Iterable[SchemaChange],
    reason: str,
    *,
    prefix: str = "",
    today: date | None = None,
) -> None:
    """Append one ``[[accepted]]`` table per change, keeping what the file already says;
    ``prefix`` names what the change is of (``partner/`` for a contract's schema)."""
    day = (today or date.today()).isoformat()
    blocks = [
        "\n[[accepted]]\n"
        f"id = {_string(prefix + change.id)}\n"
        f"change = {_string(change.line().split(maxsplit=1)[1])}\n"
        f"reason = {_string(reason)}\n"
        f'accepted_on = "{day}"\n'
        for change in changes
    ]
    existing = path.read_text(encoding="utf-8") if path.is_file() else HEADER
    path.write_text(existing + "".join(blocks), encoding="utf-8")


def _string(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's, for the printable text given here)."""
    return json.dumps(text, ensure_ascii=False)
