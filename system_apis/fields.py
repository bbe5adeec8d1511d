"""Reading fields out of decoded JSON with errors that name the field and where it sits.

Every mapping function reads through these, so a payload off contract fails as
`MalformedPayload("order.items[2].qty: expected a decimal, got 'four'")` and never as a
KeyError or TypeError from deep inside a mapping.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from types import TracebackType
from typing import Any

import orjson

from domain.storable import InvalidCanonicalValue, check_instant
from system_apis.errors import MalformedPayload

_MISSING = object()


def as_object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise MalformedPayload(f"{where}: expected an object, got {_kind(value)}")
    return value


def as_list(value: Any, where: str) -> Sequence[Any]:
    if not isinstance(value, list | tuple):
        raise MalformedPayload(f"{where}: expected a list, got {_kind(value)}")
    return value


def field(data: Mapping[str, Any], key: str, where: str) -> Any:
    value = data.get(key, _MISSING)
    if value is _MISSING or value is None:
        raise MalformedPayload(f"{where}.{key}: missing")
    return value


def text(data: Mapping[str, Any], key: str, where: str) -> str:
    value = field(data, key, where)
    if not isinstance(value, str) or not value:
        raise MalformedPayload(f"{where}.{key}: expected a non-empty string, got {_kind(value)}")
    return value


def optional_text(data: Mapping[str, Any], key: str, where: str) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MalformedPayload(f"{where}.{key}: expected a string, got {_kind(value)}")
    return value


def decimal(data: Mapping[str, Any], key: str, where: str) -> Decimal:
    value = field(data, key, where)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise MalformedPayload(f"{where}.{key}: expected a decimal, got {_kind(value)}")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise MalformedPayload(f"{where}.{key}: expected a decimal, got {value!r}") from None
    if not number.is_finite():
        raise MalformedPayload(f"{where}.{key}: expected a finite decimal, got {value!r}")
    return number


def integer(data: Mapping[str, Any], key: str, where: str) -> int:
    value = field(data, key, where)
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedPayload(f"{where}.{key}: expected an integer, got {_kind(value)}")
    return value


def boolean(data: Mapping[str, Any], key: str, where: str, default: bool = False) -> bool:
    value = data.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise MalformedPayload(f"{where}.{key}: expected true or false, got {_kind(value)}")
    return value


def aware_datetime(data: Mapping[str, Any], key: str, where: str) -> datetime:
    """An ISO 8601 instant with an offset; a time without one is ambiguous and refused."""
    value = text(data, key, where)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise MalformedPayload(f"{where}.{key}: expected an ISO 8601 time, got {value!r}") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise MalformedPayload(f"{where}.{key}: time {value!r} has no UTC offset")
    try:
        check_instant(f"{where}.{key}", moment)
    except InvalidCanonicalValue as error:
        raise MalformedPayload(error.reason) from None
    return moment


def optional_aware_datetime(data: Mapping[str, Any], key: str, where: str) -> datetime | None:
    if data.get(key) in (None, ""):
        return None
    return aware_datetime(data, key, where)


def day(data: Mapping[str, Any], key: str, where: str) -> date:
    value = text(data, key, where)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise MalformedPayload(f"{where}.{key}: expected a date, got {value!r}") from None


def optional_day(data: Mapping[str, Any], key: str, where: str) -> date | None:
    if data.get(key) in (None, ""):
        return None
    return day(data, key, where)


def choice(data: Mapping[str, Any], key: str, where: str, table: Mapping[str, Any]) -> Any:
    """The canonical value of a backend code; unknown codes name the field and the code."""
    value = text(data, key, where)
    try:
        return table[value]
    except KeyError:
        raise MalformedPayload(f"{where}.{key}: unknown value {value!r}") from None


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return repr(value[:40])
    return type(value).__name__


def currency(data: Mapping[str, Any], key: str, where: str) -> str:
    value = text(data, key, where)
    if len(value) != 3 or not value.isalpha() or not value.isupper():
        raise MalformedPayload(f"{where}.{key}: expected an ISO 4217 code, got {value!r}")
    return value


def json_body(body: bytes, where: str = "body") -> Any:
    """Decoded JSON of a raw body; invalid UTF-8 or JSON names the position it failed at.

    Decoded by the encoder the event log writes with, so what it returns can be written back:
    lone surrogates, NaN and Infinity, numbers beyond a double and nesting past its depth limit
    are refused here, as the caller's error, never later by a store.
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise MalformedPayload(
            f"{where}: not JSON ({error.msg} at line {error.lineno} column {error.colno})"
        ) from None


def canonical(where: str) -> AbstractContextManager[None]:
    """Building canonical values from a payload: what they refuse is the payload's fault."""
    return _PayloadsFault(where)


class _PayloadsFault(AbstractContextManager[None]):
    """`canonical`'s block; a class rather than a generator-based context manager, because
    one is opened for every record read (a pushed X12 batch holds dozens)."""

    __slots__ = ("_where",)

    def __init__(self, where: str) -> None:
        self._where = where

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if isinstance(error, InvalidCanonicalValue):
            raise MalformedPayload(f"{self._where}: {error.reason}") from None
