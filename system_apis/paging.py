"""One page of records and the token to the next, whatever each backend calls its cursor."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from system_apis import fields

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """`next_token` is opaque and None on the last page; pass it back unchanged."""

    items: tuple[T, ...]
    next_token: str | None = None


async def iterate_pages(fetch: Callable[[str | None], Awaitable[Page[T]]]) -> AsyncIterator[T]:
    """Every record across pages, fetching the next page only when the caller gets there."""
    token: str | None = None
    while True:
        page = await fetch(token)
        for item in page.items:
            yield item
        if not page.next_token or page.next_token == token:
            return
        token = page.next_token


def records_of(answer: Any, key: str, mapper: Callable[[Any, str], T]) -> tuple[T, ...]:
    """Each record listed under `key` in a backend's answer, mapped with its position named."""
    data = fields.as_object(answer, "answer")
    records = fields.as_list(data.get(key, []), f"answer.{key}")
    return tuple(mapper(record, f"{key}[{index}]") for index, record in enumerate(records))


def page_of(answer: Any, key: str, token_key: str, mapper: Callable[[Any, str], T]) -> Page[T]:
    """`records_of` plus the token to the next page, whatever the backend calls it."""
    token = fields.as_object(answer, "answer").get(token_key)
    return Page(
        items=records_of(answer, key, mapper),
        next_token=token if isinstance(token, str) and token else None,
    )
