"""The federation router's exceptions, in one hierarchy callers can catch at the right level.

``FederationError`` > ``SupergraphError`` (the supergraph cannot be served),
``OperationError`` (the client's document is unusable: parse, validation or variables),
``SubgraphError`` > ``SubgraphTimeout``, ``SubgraphInvalidResponse`` (a subgraph call failed;
the router turns these into GraphQL errors with a code, a neutral sentence and partial data,
never into exceptions or internals that reach the client).
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
    """A subgraph could not be reached or answered with something that is not GraphQL.

    The message is a neutral sentence a client may read and ``code`` says what kind of
    failure it was; ``detail`` (addresses, status, exception text) is for the log only.
    """

    code = "SUBGRAPH_UNAVAILABLE"

    def __init__(self, subgraph: str, message: str | None = None, *, detail: str = "") -> None:
        super().__init__(message or f"The {subgraph} service is unavailable.")
        self.subgraph = subgraph
        self.detail = detail


class SubgraphTimeout(SubgraphError):
    """A subgraph did not answer within its configured timeout."""

    code = "SUBGRAPH_TIMEOUT"

    def __init__(self, subgraph: str, message: str | None = None, *, detail: str = "") -> None:
        super().__init__(
            subgraph, message or f"The {subgraph} service did not answer in time.", detail=detail
        )


class SubgraphInvalidResponse(SubgraphError):
    """A subgraph answered, but not with a GraphQL response."""

    code = "SUBGRAPH_INVALID_RESPONSE"

    def __init__(self, subgraph: str, message: str | None = None, *, detail: str = "") -> None:
        super().__init__(
            subgraph,
            message or f"The {subgraph} service gave an answer that is not GraphQL.",
            detail=detail,
        )
