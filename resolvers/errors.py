"""Errors a client may read, and the mask that hides every other one.

Backend failures carry a sentence written for clients (`public_message`) and a code; anything
else (a bug, an unexpected exception) reaches the client only as "Unexpected error." with the
code INTERNAL_SERVER_ERROR, so no internals or stack traces leave the process; the exception
is logged with the correlation id.
"""

from __future__ import annotations

import logging

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from system_apis.context import current_correlation_id
from system_apis.errors import (
    BackendError,
    BackendRejected,
    BackendThrottled,
    BackendTimeout,
    BackendUnavailable,
)

_logger = logging.getLogger("resolvers")


class PublicError(Exception):
    """An error whose message and code are meant for the client."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.extensions = {"code": code}


def public_backend_error(error: BackendError) -> PublicError:
    if isinstance(error, BackendThrottled):
        code = "BACKEND_THROTTLED"
    elif isinstance(error, BackendTimeout):
        code = "BACKEND_TIMEOUT"
    elif isinstance(error, BackendUnavailable):
        code = "BACKEND_UNAVAILABLE"
    elif isinstance(error, BackendRejected):
        code = "BACKEND_REJECTED"
    else:
        code = "BACKEND_ERROR"
    return PublicError(error.public_message, code)


def invalid_cursor(argument: str) -> PublicError:
    """A cursor this API did not issue to the caller: their error, never sent to a backend."""
    return PublicError(
        f"The `{argument}` cursor is not one this API issued to you; "
        "pass back a nextCursor unchanged, or leave it out to start from the first page.",
        "BAD_USER_INPUT",
    )


def _is_internal(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None:
        return False  # GraphQL's own validation and coercion errors are for the client
    return not isinstance(original, PublicError)


class _CodedMask(MaskErrors):
    """Strawberry's mask, plus what every other error has: a code. The client learns only that
    something failed; what did goes to the log with the request's correlation id."""

    def _process_result(self, result: object) -> None:
        """As strawberry's, without its runtime protocol check: that costs more than the rest
        of a subscription event's masking, and it runs on every event."""
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        _logger.error(
            "resolver failed at %s: %s: %s [x-correlation-id=%s]",
            ".".join(str(part) for part in error.path or ()),
            type(original).__name__,
            original,
            current_correlation_id(),
        )
        return GraphQLError(
            message=self.error_message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": "INTERNAL_SERVER_ERROR"},
        )


def error_mask() -> MaskErrors:
    return _CodedMask(should_mask_error=_is_internal)
