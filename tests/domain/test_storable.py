"""The canonical checks take shortcuts for the common case (plain ASCII text, UTC instants,
flat payloads); these properties hold them to the rules written out plainly below: the same
values pass, and a refused value is refused with the same message."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from domain.storable import (
    DEFAULT_TEXT_LENGTH,
    MAX_PAYLOAD_DEPTH,
    InvalidCanonicalValue,
    RecordChecks,
    check_instant,
    check_json,
    check_text,
)

INT64 = 2**63


def plain_encodable(name: str, value: str) -> None:
    if "\x00" in value:
        raise InvalidCanonicalValue(name, "contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidCanonicalValue(name, "contains a lone surrogate") from None


def plain_text(name: str, value: object, *, max_length: int, required: bool = False) -> None:
    if value is None and not required:
        return
    if not isinstance(value, str):
        raise InvalidCanonicalValue(name, f"expected text, got {type(value).__name__}")
    if required and not value:
        raise InvalidCanonicalValue(name, "must not be empty")
    if len(value) > max_length:
        raise InvalidCanonicalValue(name, f"longer than {max_length} characters")
    plain_encodable(name, value)


def plain_instant(name: str, value: object) -> None:
    if not isinstance(value, datetime):
        raise InvalidCanonicalValue(name, f"expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidCanonicalValue(name, "must be timezone-aware")
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise InvalidCanonicalValue(name, "is outside the calendar once in UTC") from None


def plain_json(name: str, value: object, depth: int = 0) -> None:
    if depth > MAX_PAYLOAD_DEPTH:
        raise InvalidCanonicalValue(name, f"nested deeper than {MAX_PAYLOAD_DEPTH} levels")
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        plain_encodable(name, value)
    elif isinstance(value, int):
        if not -INT64 <= value < INT64:
            raise InvalidCanonicalValue(name, "integer out of the 64-bit range")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidCanonicalValue(name, "number is not finite")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidCanonicalValue(name, f"key {key!r} is not text")
            plain_encodable(f"{name} key", key)
            plain_json(f"{name}.{key}", item, depth + 1)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            plain_json(f"{name}[{index}]", item, depth + 1)
    else:
        raise InvalidCanonicalValue(name, f"{type(value).__name__} is not JSON data")


def outcome(check, *arguments, **options) -> str | None:
    """None when the check passes, else the reason it gives."""
    try:
        check(*arguments, **options)
    except InvalidCanonicalValue as error:
        return error.reason
    return None


class Code(StrEnum):
    SHORT = "OK"
    LONG = "A CODE LONGER THAN EIGHT"


any_character = st.characters(exclude_categories=())  # surrogates and NUL included
texts = st.one_of(
    st.text(st.characters(max_codepoint=127), max_size=12),
    st.text(any_character, max_size=12),
    st.sampled_from(["", "\x00", "caf\u00e9", "\ud800", "a" * 9, Code.SHORT, Code.LONG]),
)
zones = st.one_of(
    st.just(UTC),
    st.sampled_from([ZoneInfo("America/Chicago"), ZoneInfo("Asia/Tokyo")]),
    st.timedeltas(timedelta(hours=-23, minutes=-59), timedelta(hours=23, minutes=59)).map(timezone),
)
instants = st.one_of(
    st.datetimes(timezones=zones),
    st.datetimes(),
    st.datetimes(max_value=datetime(1, 1, 3), timezones=zones),
    st.datetimes(min_value=datetime(9999, 12, 29), timezones=zones),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    texts,
    st.integers(-(2**64), 2**64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([Decimal("1.5"), {1, 2}, b"bytes"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.one_of(texts, st.integers(0, 3)), inner, max_size=3),
        st.dictionaries(texts, inner, max_size=3).map(OrderedDict),
        st.dictionaries(texts, inner, max_size=3).map(MappingProxyType),
    ),
    max_leaves=12,
)


def nested(value: object, containers: list[bool]) -> object:
    """`value` inside one container per flag, innermost first: an object if True, else a list."""
    for as_object in containers:
        value = {"k": value} if as_object else [value]
    return value


@given(texts | scalars, st.integers(0, 10), st.booleans())
def test_text_is_refused_exactly_as_the_rules_say(value, max_length, required):
    assert outcome(check_text, "T.f", value, max_length=max_length, required=required) == outcome(
        plain_text, "T.f", value, max_length=max_length, required=required
    )


@given(instants | scalars)
def test_an_instant_is_refused_exactly_as_the_rules_say(value):
    assert outcome(check_instant, "T.at", value) == outcome(plain_instant, "T.at", value)


@given(json_values)
def test_json_data_is_refused_exactly_as_the_rules_say(value):
    assert outcome(check_json, "p", value) == outcome(plain_json, "p", value)


@given(
    st.lists(st.booleans(), min_size=MAX_PAYLOAD_DEPTH - 1, max_size=MAX_PAYLOAD_DEPTH + 1),
    scalars | st.sampled_from([{}, []]),
)
def test_nesting_is_refused_at_the_same_depth(containers, leaf):
    value = nested(leaf, containers)
    assert outcome(check_json, "p", value) == outcome(plain_json, "p", value)


@dataclass(frozen=True, slots=True)
class Record:
    code: str
    at: datetime
    note: str | None = None
    count: int = 0
    payload: Mapping[str, object] | None = None


LIMITS = {"code": 8}


def plain_record(record: Record) -> None:
    for name in ("code", "at", "note", "count", "payload"):
        value = getattr(record, name)
        if isinstance(value, datetime):
            plain_instant(f"Record.{name}", value)
        elif isinstance(value, str) or value is None:
            limit = LIMITS.get(name, DEFAULT_TEXT_LENGTH)
            plain_text(f"Record.{name}", value, max_length=limit)


@given(
    st.builds(
        Record,
        code=texts | instants,
        at=instants | texts,
        note=st.none() | texts | st.text(max_size=5).map(lambda tail: "n" * 1998 + tail),
        count=st.integers(),
        payload=st.none() | st.just({"k": "\x00"}),
    )
)
def test_a_record_is_refused_at_its_first_bad_field_as_the_rules_say(record):
    assert outcome(RecordChecks.of(Record, LIMITS), record) == outcome(plain_record, record)
