"""Every error the system APIs raise, in two hierarchies callers can catch at the right level.

Outbound calls (a backend client talking to ERP, WMS, TMS or a carrier) raise `BackendError`:

    BackendError
    ├── BackendUnavailable      connect errors, 5xx, outage, maintenance, concurrency bound
    │   ├── CircuitOpen         the breaker is open: failed fast, the backend was not called
    │   └── BackendResponseTooLarge  the answer's body passed the backend's byte cap
    ├── BackendThrottled        429, or a Retry-After longer than we are willing to wait
    ├── BackendRejected         4xx: the backend understood and said no (status code kept)
    │   ├── BackendNotFound     404
    │   └── BackendRedirected   3xx: the backend sent us elsewhere; redirects are not followed
    └── BackendTimeout          no whole answer within an attempt's or the call's deadline

Each carries the backend's name, the operation and `public_message`, a sentence that is safe to
show a client: it names the backend and the operation, never a URL, a header or a stack trace.
`BackendRejected.public_message` includes the backend's own reason, which is written for callers.

Inbound payloads (webhooks, pushed X12, polled status rows) raise `InboundError`:

    InboundError
    ├── InvalidSignature        the sender is not who it claims: answer 401, store nothing
    └── MalformedPayload        answer 400 with `reason`; keep the body as a dead letter
        └── UnknownStatusCode   well-formed but a code we do not map yet: a dead letter to replay
                                once the mapping knows the code, never dropped silently
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class BackendError(Exception):
    """A call to a backend did not produce the answer the caller asked for."""

    def __init__(self, backend: str, operation: str, public_message: str) -> None:
        super().__init__(public_message)
        self.backend = backend
        self.operation = operation
        self.public_message = public_message


class BackendUnavailable(BackendError):
    """The backend could not serve the call (down, failing, in maintenance or saturated).

    `retry_after` is the backend's own estimate in seconds when it gave one (maintenance).
    """

    def __init__(
        self,
        backend: str,
        operation: str,
        public_message: str | None = None,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            backend, operation, public_message or f"{backend} is unavailable ({operation})"
        )
        self.status_code = status_code
        self.retry_after = retry_after


class CircuitOpen(BackendUnavailable):
    """Failed fast: recent calls failed, so this one was not sent; `retry_after` says when."""

    def __init__(self, backend: str, operation: str, *, retry_after: float) -> None:
        super().__init__(
            backend,
            operation,
            f"{backend} is unavailable ({operation}): too many recent failures",
            retry_after=retry_after,
        )


class BackendResponseTooLarge(BackendUnavailable):
    """The answer's body passed `limit_bytes`; it was abandoned unread, so memory stays bounded."""

    def __init__(self, backend: str, operation: str, *, limit_bytes: int) -> None:
        super().__init__(
            backend, operation, f"{backend} answered {operation} with more data than accepted"
        )
        self.limit_bytes = limit_bytes


class BackendThrottled(BackendError):
    """The backend asked us to slow down for `retry_after` seconds (None when it did not say)."""

    def __init__(self, backend: str, operation: str, *, retry_after: float | None) -> None:
        super().__init__(backend, operation, f"{backend} is busy ({operation}): try again later")
        self.retry_after = retry_after


class BackendRejected(BackendError):
    """A 4xx: retrying the same call will not help; `reason` and `details` are the backend's."""

    def __init__(
        self,
        backend: str,
        operation: str,
        *,
        status_code: int,
        reason: str,
        message: str = "",
        details: Sequence[Any] | Mapping[str, Any] | None = None,
    ) -> None:
        said = message or reason
        super().__init__(backend, operation, f"{backend} rejected {operation}: {said}")
        self.status_code = status_code
        self.reason = reason
        self.message = message
        self.details = details


class BackendNotFound(BackendRejected):
    """A 404: the record the call named does not exist in the backend."""


class BackendRedirected(BackendRejected):
    """A 3xx: a backend's address is configuration, not something an answer may change, so a
    redirect is never followed; it usually means the call named a path the backend does not
    serve as such (an id with a slash)."""

    def __init__(self, backend: str, operation: str, *, status_code: int) -> None:
        super().__init__(
            backend,
            operation,
            status_code=status_code,
            reason="redirect",
            message=f"answered with a redirect ({status_code}), which is not followed",
        )


class BackendTimeout(BackendError):
    """No whole answer within the deadline of an attempt (`timeout_s`) or of the call over all
    its attempts and waits; the call may or may not have had an effect."""

    def __init__(self, backend: str, operation: str, *, timeout_s: float) -> None:
        super().__init__(backend, operation, f"{backend} did not answer in time ({operation})")
        self.timeout_s = timeout_s


class InboundError(Exception):
    """A pushed or polled payload that cannot become canonical events."""


class InvalidSignature(InboundError):
    """Signature, timestamp or credentials do not verify: the payload is not trusted at all."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MalformedPayload(InboundError):
    """The payload is authentic but unusable; `reason` names the field or segment and where."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownStatusCode(MalformedPayload):
    """A carrier or backend status code with no canonical mapping yet."""

    def __init__(self, source: str, code: str, where: str = "") -> None:
        location = f" at {where}" if where else ""
        super().__init__(f"unknown {source} status code {code!r}{location}")
        self.source = source
        self.code = code
