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
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from functools import cache
from typing import Any

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
    if (
        isinstance(value, str)
        and len(value) <= max_length
        and "\x00" not in value
        and (value.isascii() or _encodes(value))
        and (value or not required)
    ):
        return
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
    if value.__class__ is datetime:
        zone = value.tzinfo
        if zone is UTC:
            return
        if zone is not None and 1 < value.year < 9999 and value.utcoffset() is not None:
            return  # an offset is under a day: only the calendar's first and last years overflow
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
    if not _plain_json(value, depth):
        _check_json_closely(name, value, depth)


def _plain_json(value: Any, depth: int) -> bool:
    """True only for data `_check_json_closely` accepts, found without naming every field on
    the way: payloads are checked on every event built, and nearly all of them are plain.
    False means "look closely", which finds the problem and names it (or accepts the rarer
    shapes this walk leaves to it: subclasses, other mappings, non-ASCII text)."""
    if depth > MAX_PAYLOAD_DEPTH:
        return False
    kind = value.__class__
    if kind is str:
        return "\x00" not in value and (value.isascii() or _encodes(value))
    if value is None or kind is bool:
        return True
    if kind is int:
        return -_INT64 <= value < _INT64
    if kind is float:
        return math.isfinite(value)
    if kind is dict:
        if depth == MAX_PAYLOAD_DEPTH:
            return not value  # its items would be nested too deep
        for key, item in value.items():
            if key.__class__ is not str or "\x00" in key or not (key.isascii() or _encodes(key)):
                return False
            if item.__class__ is str:  # most values: checked here rather than by a call
                if "\x00" in item or not (item.isascii() or _encodes(item)):
                    return False
            elif item is not None and not _plain_json(item, depth + 1):
                return False
        return True
    if kind is list or kind is tuple:
        return all(_plain_json(item, depth + 1) for item in value)
    return False


def _check_json_closely(name: str, value: object, depth: int) -> None:
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
    if not _encodes(value):
        raise InvalidCanonicalValue(name, "contains a lone surrogate")


def _encodes(value: str) -> bool:
    """Whether UTF-8 takes the text; ASCII (`isascii` is constant time) always does."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_record(record: object, limits: Mapping[str, int]) -> None:
    """Every instant and text field of a canonical dataclass; `limits` gives a text field's
    maximum length by name (`DEFAULT_TEXT_LENGTH` for the others). A class checked on every
    construction has its `RecordChecks` worked out once instead."""
    RecordChecks.of(type(record), limits)(record)


@dataclass(frozen=True, slots=True)
class RecordChecks:
    """`check_record` for one class with its limits, with each field's name for errors and its
    limit looked up once: canonical records are built for every event, and checking them is
    most of what building them costs."""

    checked: tuple[tuple[str, str, int], ...]
    """(field, its name in errors, its maximum length if text), in declaration order."""

    @classmethod
    def of(cls, kind: type, limits: Mapping[str, int]) -> RecordChecks:
        return cls(
            tuple(
                (name, f"{kind.__name__}.{name}", limits.get(name, DEFAULT_TEXT_LENGTH))
                for name in field_names(kind)
            )
        )

    def __call__(self, record: object) -> None:
        """Raises `InvalidCanonicalValue` for the first field (in declaration order) an engine
        could not hold. Plain ASCII text within its limit passes without a call; anything else
        goes through `check_instant` or `check_text`, and other values are not this check's."""
        for name, label, limit in self.checked:
            value = getattr(record, name)
            if value is None:
                continue
            if isinstance(value, str):
                if len(value) <= limit and value.isascii() and "\x00" not in value:
                    continue
                check_text(label, value, max_length=limit)
            elif isinstance(value, datetime):
                check_instant(label, value)


@cache
def field_names(kind: type) -> tuple[str, ...]:
    """A dataclass's field names, looked up once per class: every canonical record built is
    checked, and `dataclasses.fields` walks the class each time."""
    return tuple(field.name for field in fields(kind))
