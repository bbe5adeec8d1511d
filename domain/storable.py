"""What a canonical value must be for every store and transport to hold it unchanged.

Payloads come from outside, and JSON or X12 allow things some engine refuses later: strings
with lone surrogates (no UTF-8 encoder takes them), NUL characters (PostgreSQL text refuses
them), instants whose offset pushes them past year 9999 once in UTC, texts longer than their
column, numbers no JSON encoder writes. The canonical types check their values on construction
with these functions, so an event or milestone that exists can be serialised and stored on every
engine; the inbound edge turns `InvalidCanonicalValue` into a rejected delivery.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import fields
from datetime import UTC, datetime
from functools import cache

DEFAULT_TEXT_LENGTH = 2000
"""Free text (descriptions, reasons) without a narrower column of its own."""

MAX_PAYLOAD_DEPTH = 16
"""Canonical payloads are flat records with a few nested lists; deeper is never ours."""

_INT64 = 2**63


class InvalidCanonicalValue(ValueError):
    """A value a canonical type cannot hold; `reason` names the field and the problem."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.reason = f"{name}: {problem}"


def check_text(name: str, value: object, *, max_length: int, required: bool = False) -> None:
    """Printable-safe Unicode of bounded length: encodable as UTF-8 and without NUL."""
    if value is None and not required:
        return
    if not isinstance(value, str):
        raise InvalidCanonicalValue(name, f"expected text, got {type(value).__name__}")
    if required and not value:
        raise InvalidCanonicalValue(name, "must not be empty")
    if len(value) > max_length:
        raise InvalidCanonicalValue(name, f"longer than {max_length} characters")
    _check_encodable(name, value)


def check_instant(name: str, value: object) -> None:
    """A timezone-aware datetime that still exists once converted to UTC."""
    if not isinstance(value, datetime):
        raise InvalidCanonicalValue(name, f"expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidCanonicalValue(name, "must be timezone-aware")
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise InvalidCanonicalValue(name, "is outside the calendar once in UTC") from None


def check_json(name: str, value: object, *, depth: int = 0) -> None:
    """JSON-ready data every encoder writes the same way: text keys, finite 64-bit numbers."""
    if depth > MAX_PAYLOAD_DEPTH:
        raise InvalidCanonicalValue(name, f"nested deeper than {MAX_PAYLOAD_DEPTH} levels")
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        _check_encodable(name, value)
    elif isinstance(value, int):
        if not -_INT64 <= value < _INT64:
            raise InvalidCanonicalValue(name, "integer out of the 64-bit range")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidCanonicalValue(name, "number is not finite")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidCanonicalValue(name, f"key {key!r} is not text")
            _check_encodable(f"{name} key", key)
            check_json(f"{name}.{key}", item, depth=depth + 1)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_json(f"{name}[{index}]", item, depth=depth + 1)
    else:
        raise InvalidCanonicalValue(name, f"{type(value).__name__} is not JSON data")


def _check_encodable(name: str, value: str) -> None:
    if "\x00" in value:
        raise InvalidCanonicalValue(name, "contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidCanonicalValue(name, "contains a lone surrogate") from None


def check_record(record: object, limits: Mapping[str, int]) -> None:
    """Every instant and text field of a canonical dataclass; `limits` gives a text field's
    maximum length by name (`DEFAULT_TEXT_LENGTH` for the others)."""
    kind = type(record).__name__
    for field_name in field_names(type(record)):
        value = getattr(record, field_name)
        if isinstance(value, datetime):
            check_instant(f"{kind}.{field_name}", value)
        elif isinstance(value, str) or value is None:
            limit = limits.get(field_name, DEFAULT_TEXT_LENGTH)
            check_text(f"{kind}.{field_name}", value, max_length=limit)


@cache
def field_names(kind: type) -> tuple[str, ...]:
    """A dataclass's field names, looked up once per class: every canonical record built is
    checked, and `dataclasses.fields` walks the class each time."""
    return tuple(field.name for field in fields(kind))
