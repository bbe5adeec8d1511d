"""The schema every built-in subgraph is: federation, errors masked, errors logged once.

A `PublicError` (the caller's mistake, or a backend failure the system APIs typed) is expected:
it is logged as one line with its code and path. GraphQL's own validation errors are the
caller's too. Anything else is a bug and keeps its traceback, in the log only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache, ValidationCache

from resolvers.cache_control import CacheTags
from resolvers.errors import PublicError, error_mask

logger = logging.getLogger("resolvers")

CALLERS_ERRORS = frozenset({"BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED", "UNAUTHENTICATED"})


DOCUMENT_CACHE_SIZE = 1024
"""Parsed and validated documents kept (strawberry's caches live at module level, shared by
every subgraph schema): the router sends each operation shape as the same text, so most
requests skip parsing and validation. Bounded, least recently used."""


class SubgraphSchema(strawberry.federation.Schema):
    def __init__(self, *, extensions: Sequence[Any] = (), **options: Any) -> None:
        super().__init__(
            extensions=[
                error_mask,
                lambda: ParserCache(maxsize=DOCUMENT_CACHE_SIZE),
                lambda: ValidationCache(maxsize=DOCUMENT_CACHE_SIZE),
                CacheTags,
                *extensions,
            ],
            **options,
        )

    def process_errors(
        self, errors: list[GraphQLError], execution_context: Any | None = None
    ) -> None:
        for error in errors:
            log_error(error)


def log_error(error: GraphQLError) -> None:
    original = error.original_error
    path = ".".join(str(part) for part in error.path or ())
    if original is None or isinstance(original, PublicError):
        code = (error.extensions or {}).get("code") or getattr(original, "extensions", {}).get(
            "code", "GRAPHQL_VALIDATION_FAILED"
        )
        level = (
            logging.INFO
            if code in ("BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED")
            else logging.WARNING
        )
        logger.log(level, "%s at %s: %s", code, path or "-", error.message, extra={"code": code})
        return
    logger.error("unexpected error at %s", path or "-", exc_info=original)
