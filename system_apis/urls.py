"""Building request paths from ids that come from callers."""

from __future__ import annotations

from urllib.parse import quote


def segment(value: str) -> str:
    """An id quoted as exactly one path segment, so no id can reach another route."""
    if not value or value in {".", ".."}:
        raise ValueError(f"not a usable id: {value!r}")
    return quote(value, safe="")
