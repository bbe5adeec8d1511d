"""A subgraph executed in this process: a strawberry federation schema, called directly.

The location is configuration (``inproc:package.module:attribute``), so the router imports
the subgraph module only when told to and never depends on it in code.
"""

from __future__ import annotations

import copy
import importlib
import logging
from collections.abc import AsyncIterator, Mapping
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
                variable_values=_own_copy(request.variables),
                context_value=request.context,
            )
        except Exception as error:
            trace = " ".join(f"{name}={value}" for name, value in request.forwarded.trace)
            _logger.exception("in-process subgraph %s failed [%s]", self.name, trace)
            raise SubgraphError(self.name, detail=f"{type(error).__name__}: {error}") from error
        return _response(result)

    async def subscribe(
        self, request: SubgraphRequest, last_event_id: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """The schema's ``subscribe`` stream; the context is a shallow copy of the request's
        mapping (a new one without a context) with ``last_event_id`` set when resuming, so
        a subscription's resume point and state never reach another's context."""
        context = request.context
        if isinstance(context, Mapping):
            context = dict(context)
        elif context is None:
            context = {}
        if last_event_id is not None and isinstance(context, dict):
            context["last_event_id"] = last_event_id
        try:
            source = await self.schema.subscribe(
                request.query,
                variable_values=_own_copy(request.variables),
                context_value=context,
            )
        except Exception as error:
            raise self._failure(request, error) from error
        if not hasattr(source, "__aiter__"):  # refused before it started: one result
            yield _response(source)
            return
        try:
            async for result in source:
                yield _response(result)
        except Exception as error:
            raise self._failure(request, error) from error
        finally:
            close = getattr(source, "aclose", None)
            if close is not None:
                await close()

    def _failure(self, request: SubgraphRequest, error: Exception) -> SubgraphError:
        trace = " ".join(f"{name}={value}" for name, value in request.forwarded.trace)
        _logger.error(
            "in-process subgraph %s subscription failed: %s: %s [%s]",
            self.name,
            type(error).__name__,
            error,
            trace,
        )
        return SubgraphError(self.name, detail=f"{type(error).__name__}: {error}")

    async def aclose(self) -> None:
        return None


def _own_copy(variables: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The variables as the subgraph's to change: a subgraph may change what it is given
    (strawberry's `_entities` takes `__typename` out of each representation), and over HTTP it
    would have changed its own copy; the router still reads the representations it sent (the
    entity cache tags each answer by them)."""
    return copy.deepcopy(dict(variables)) if variables else None


def _response(result: Any) -> dict[str, Any]:
    response: dict[str, Any] = {"data": result.data}
    if result.errors:
        response["errors"] = [_format(error) for error in result.errors]
    extensions = getattr(result, "extensions", None)
    if extensions:
        response["extensions"] = dict(extensions)
    return response


def _format(error: Any) -> dict[str, Any]:
    formatted = getattr(error, "formatted", None)
    if isinstance(formatted, dict):
        return dict(formatted)
    return {"message": str(error)}
