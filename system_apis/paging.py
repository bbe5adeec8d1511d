"""One page of records and the token to the next, whatever each backend calls its cursor."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

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
