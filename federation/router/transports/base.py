"""The subgraph transport boundary.

A transport takes one GraphQL request for one subgraph and returns the subgraph's GraphQL
response as a plain dictionary (``data`` and/or ``errors``). Below this line are only
primitives (documents, variables, headers); planning, merging and error re-pathing stay
above it, so HTTP and in-process subgraphs give the router identical results. Failures to
obtain a GraphQL response raise ``SubgraphError`` (``SubgraphTimeout`` for timeouts), whose
message is a neutral sentence for clients; what went wrong in detail (addresses, exception
text) the transport logs with the request's trace headers and keeps out of the error.

A transport that can reach the subgraph's subscriptions also implements
``SubscriptionTransport``: the subgraph's events for one subscription operation, each a
GraphQL response, ending when the subgraph completes the subscription; it raises
``SubgraphError`` when the stream cannot be opened or breaks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from federation.router.headers import NOTHING_FORWARDED, Forwarded


@dataclass(frozen=True)
class SubgraphRequest:
    """One GraphQL request to one subgraph."""

    subgraph: str
    query: str
    variables: dict[str, Any] = field(default_factory=dict)
    #: The client's headers; each subgraph's header rules pick what of them is sent.
    headers: Mapping[str, str] = field(default_factory=dict)
    context: Any = None
    #: A mutation changes data: it is sent exactly once, never shared with another request.
    mutation: bool = False
    #: What the embedding app adds for every subgraph: identity and trace headers.
    forwarded: Forwarded = NOTHING_FORWARDED


class Transport(Protocol):
    """Sends requests to one subgraph."""

    async def execute(self, request: SubgraphRequest) -> dict[str, Any]:
        """The subgraph's GraphQL response; raises ``SubgraphError`` when there is none."""
        ...

    async def aclose(self) -> None:
        """Release pooled resources."""
        ...


class SubscriptionTransport(Protocol):
    """Opens subscriptions on one subgraph."""

    def subscribe(
        self, request: SubgraphRequest, last_event_id: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """The subgraph's events, each a GraphQL response with ``extensions.eventId`` when
        the subgraph numbers its events; ``last_event_id`` asks it to resume after that one.
        Closing the iterator (``aclose``) closes the subscription upstream."""
        ...
