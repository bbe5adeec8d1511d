"""The subgraph transport boundary.

A transport takes one GraphQL request for one subgraph and returns the subgraph's GraphQL
response as a plain dictionary (``data`` and/or ``errors``). Below this line are only
primitives (documents, variables, headers); planning, merging and error re-pathing stay
above it, so HTTP and in-process subgraphs give the router identical results. Failures to
obtain a GraphQL response raise ``SubgraphError`` (``SubgraphTimeout`` for timeouts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class SubgraphRequest:
    """One GraphQL request to one subgraph."""

    subgraph: str
    query: str
    variables: dict[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    context: Any = None
    #: A mutation changes data: it is sent exactly once, never shared with another request.
    mutation: bool = False


class Transport(Protocol):
    """Sends requests to one subgraph."""

    async def execute(self, request: SubgraphRequest) -> dict[str, Any]:
        """The subgraph's GraphQL response; raises ``SubgraphError`` when there is none."""
        ...

    async def aclose(self) -> None:
        """Release pooled resources."""
        ...
