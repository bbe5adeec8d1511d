"""A subgraph executed in this process: a strawberry federation schema, called directly.

The location is configuration (``inproc:package.module:attribute``), so the router imports
the subgraph module only when told to and never depends on it in code.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from federation.router.errors import SubgraphError
from federation.router.transports.base import SubgraphRequest

PREFIX = "inproc:"
_logger = logging.getLogger("federation.router.subgraphs")


def load_schema(location: str) -> Any:
    """Import ``package.module:attribute`` (with or without the ``inproc:`` prefix)."""
    target = location.removeprefix(PREFIX)
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"in-process subgraph must be module:attribute, got {location!r}")
    value: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        value = getattr(value, part)
    return value


class InProcessTransport:
    """Executes requests on a schema object exposing ``async execute(query, ...)``."""

    def __init__(self, name: str, schema: Any) -> None:
        self.name = name
        self.schema = schema

    @classmethod
    def from_location(cls, name: str, location: str) -> InProcessTransport:
        return cls(name, load_schema(location))

    async def execute(self, request: SubgraphRequest) -> dict[str, Any]:
        try:
            result = await self.schema.execute(
                request.query,
                variable_values=request.variables or None,
                context_value=request.context,
            )
        except Exception as error:
            trace = " ".join(f"{name}={value}" for name, value in request.forwarded.trace)
            _logger.exception("in-process subgraph %s failed [%s]", self.name, trace)
            raise SubgraphError(self.name, detail=f"{type(error).__name__}: {error}") from error
        response: dict[str, Any] = {"data": result.data}
        if result.errors:
            response["errors"] = [_format(error) for error in result.errors]
        return response

    async def aclose(self) -> None:
        return None


def _format(error: Any) -> dict[str, Any]:
    formatted = getattr(error, "formatted", None)
    if isinstance(formatted, dict):
        return dict(formatted)
    return {"message": str(error)}
