"""What the client transports stream from, and who they stream it for.

The boundary: below it the router turns one subscription into events (``Subscribe``, which
``Router.subscribe`` is); above it each transport (graphql-transport-ws, graphql-sse,
multipart HTTP) frames those events for its clients. The embedding app decides who a
client is (``Identify``): its answer, a ``Subscriber``, is everything the router needs to
run that client's operations, so the transports never learn about credentials.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from starlette.requests import HTTPConnection

from federation.router.headers import NOTHING_FORWARDED, Forwarded
from federation.router.options import DEFAULT_OPTIONS, RequestOptions


class StreamEvent(Protocol):
    """One event of a subscription: a GraphQL response and, when resumable, its id."""

    @property
    def payload(self) -> dict[str, Any]: ...

    @property
    def event_id(self) -> str | None: ...


class EventStream(Protocol):
    """The events of one subscription; ``aclose`` ends it early and frees what it holds."""

    def __aiter__(self) -> AsyncIterator[StreamEvent]: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class BufferedEventStream(EventStream, Protocol):
    """A stream whose events wait in its own bounded buffer (``Router.subscribe``'s): the
    transport is told as each arrives and takes it there and then, instead of waiting for
    each one in a task (see ``delivery``)."""

    def when_ready(self, ready: Callable[[], None] | None) -> None:
        """Call ``ready`` (at once, from the task feeding the stream) whenever an event arrives
        or the stream ends; ``None`` stops it. Iterating and ``ready`` do not mix."""
        ...

    def take(self) -> StreamEvent | None:
        """The next buffered event, or None when none is buffered now."""
        ...

    @property
    def buffered(self) -> int:
        """How many events wait to be taken."""
        ...

    @property
    def exhausted(self) -> bool:
        """Ended, with every event taken: nothing more will come."""
        ...


class Subscribe(Protocol):
    """``Router.subscribe``: a GraphQL error response (the subscription never started) or
    its stream of events, resumed after ``last_event_id`` when given."""

    async def __call__(
        self,
        query: str,
        variables: Mapping[str, Any] | None,
        operation_name: str | None,
        *,
        context: Any = None,
        forwarded: Forwarded = NOTHING_FORWARDED,
        options: RequestOptions = ...,
        last_event_id: str | None = None,
        sharing_key: str | None = None,
    ) -> dict[str, Any] | EventStream: ...


@dataclass(frozen=True, slots=True)
class Admission:
    """The embedding app's answer to one operation a streaming client starts.

    Refused when ``errors`` is not empty: they are the operation's whole answer (over HTTP
    with ``status`` and ``headers``). An admitted operation's ``release`` is called once,
    when it ends however it ends, so the app can count what is open."""

    errors: tuple[dict[str, Any], ...] = ()
    status: int = 429
    headers: tuple[tuple[str, str], ...] = ()
    release: Callable[[], None] | None = None

    @property
    def refused(self) -> bool:
        return bool(self.errors)

    def end(self) -> None:
        if self.release is not None:
            self.release()


ADMITTED = Admission()


class Admit(Protocol):
    """Whether one operation may start: ``kind`` is ``query``, ``mutation``,
    ``subscription`` or ``invalid`` (a document the router refused), ``transport`` is
    ``websocket``, ``sse`` or ``multipart``. A WebSocket asks for every operation it carries;
    an HTTP stream only for a subscription (its request went through the app already)."""

    async def __call__(self, kind: str, transport: str) -> Admission: ...


async def admit_everything(kind: str, transport: str) -> Admission:
    return ADMITTED


Lapse = Callable[[], Awaitable[str]]
"""Returns once the credential a client was identified by is no longer valid (its expiry
passed, it was revoked), with words the client can act on; never while it stays valid."""


@dataclass(frozen=True, slots=True)
class Subscriber:
    """Who a client is, as the embedding app decided: what its operations run with.

    ``context`` reaches resolvers; ``sharing_key`` says whose subscriptions may share one
    upstream stream (never two tenants or two sets of permissions); ``admit`` decides each
    operation before it starts (rate limits, caps on open subscriptions); ``lapse``, when
    given, is awaited while the connection lasts: once it returns, the transport ends the
    connection as unauthenticated (``credential_lapse``).
    """

    context: Any
    forwarded: Forwarded = NOTHING_FORWARDED
    options: RequestOptions = DEFAULT_OPTIONS
    sharing_key: str | None = None
    admit: Admit = admit_everything
    lapse: Lapse | None = None


@dataclass(frozen=True, slots=True)
class Refusal:
    """The client may not proceed: ``code`` is a WebSocket close code (4401 unauthenticated,
    4403 forbidden) and maps to 401 or 403 over HTTP; ``message`` is safe to show."""

    code: int
    message: str

    @property
    def http_status(self) -> int:
        return 403 if self.code == 4403 else 401


Identify = Callable[[HTTPConnection, Mapping[str, Any] | None], Awaitable[Subscriber | Refusal]]
"""Decides who a client is: over HTTP from the request (``None``); over a WebSocket from the
upgrade request and the ``connection_init`` payload (a mapping, empty when none was sent)."""


async def open_identify(connection: HTTPConnection, _: Mapping[str, Any] | None) -> Subscriber:
    """Everyone is served, with the connection as the resolvers' ``request``."""
    return Subscriber(context={"request": connection})


def with_event_id(payload: dict[str, Any], event_id: str | None) -> dict[str, Any]:
    """The payload with ``extensions.eventId``: what a client reconnects with to resume."""
    if event_id is None:
        return payload
    extensions = payload.get("extensions")
    merged = {**extensions, "eventId": event_id} if isinstance(extensions, dict) else {}
    merged.setdefault("eventId", event_id)
    return {**payload, "extensions": merged}
