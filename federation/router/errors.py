"""The federation router's exceptions, in one hierarchy callers can catch at the right level.

``FederationError`` > ``SupergraphError`` (the supergraph cannot be served),
``OperationError`` (the client's document is unusable: parse, validation or variables),
``SubgraphError`` > ``SubgraphTimeout`` (a subgraph call failed; the router turns these into
GraphQL errors with partial data, never into exceptions that reach the client).
"""

from __future__ import annotations

from typing import Any


class FederationError(Exception):
    """Base class of everything the router raises."""


class SupergraphError(FederationError):
    """The supergraph SDL is malformed or uses a feature the router cannot honour."""


class OperationError(FederationError):
    """The client's operation cannot be executed; ``errors`` are GraphQL-formatted."""

    def __init__(self, errors: list[dict[str, Any]], *, kind: str = "validation") -> None:
        super().__init__(errors[0]["message"] if errors else kind)
        self.errors = errors
        self.kind = kind


class SubgraphError(FederationError):
    """A subgraph could not be reached or answered with something that is not GraphQL."""

    def __init__(self, subgraph: str, message: str) -> None:
        super().__init__(message)
        self.subgraph = subgraph


class SubgraphTimeout(SubgraphError):
    """A subgraph did not answer within its configured timeout."""
