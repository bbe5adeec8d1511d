"""Calling the process layer from a resolver: not found is null, backend trouble a public error."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from process_apis.visibility import NotFound
from resolvers.errors import public_backend_error
from system_apis.errors import BackendError

T = TypeVar("T")


async def or_none(call: Awaitable[T]) -> T | None:
    try:
        return await call
    except NotFound:
        return None
    except BackendError as error:
        raise public_backend_error(error) from None


async def or_raise(call: Awaitable[T]) -> T:
    try:
        return await call
    except BackendError as error:
        raise public_backend_error(error) from None
