"""One GraphQL operation from a streaming client: its parameters, its kind, how it starts.

Every transport reads the same parameters (``query``, ``variables``, ``operationName``,
``extensions``) with the same checks, and runs the same way: a subscription through
``Subscribe``, a query or mutation through ``Router.execute`` as one result.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import OperationType

from federation.router.errors import OperationError
from federation.router.limits import parse_within_limits
from federation.router.operation import select_operation
from federation.router.options import RequestOptions
from federation.router.persisted import PersistedRefusal, refers_to_persisted
from federation.router.router import Router
from federation.router.streaming.source import EventStream, Subscribe, Subscriber

MAX_EVENT_ID_LENGTH = 128
"""Longer resume ids are refused: an id is an event position, a few digits."""


class InvalidParams(ValueError):
    """The request's parameters are not a GraphQL request; the message says which one."""


@dataclass(frozen=True, slots=True)
class GraphQLParams:
    query: str
    variables: dict[str, Any] | None = None
    operation_name: str | None = None
    extensions: dict[str, Any] | None = None
    document_id: object = None
    """``documentId`` (or ``id``): a trusted document named instead of a ``query``."""

    @property
    def last_event_id(self) -> str | None:
        """``extensions.lastEventId``: the last event the client saw, to resume after."""
        return resume_id((self.extensions or {}).get("lastEventId"), "extensions.lastEventId")


def resume_id(value: object, name: str) -> str | None:
    """A client's last event id as the router takes it, or None when it sent none."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidParams(f"{name} must be a string")
    text = str(value)
    if len(text) > MAX_EVENT_ID_LENGTH or not text.isprintable():
        raise InvalidParams(f"{name} must be printable and at most {MAX_EVENT_ID_LENGTH} long")
    return text


def parse_params(value: object) -> GraphQLParams:
    """Checked parameters from a decoded JSON object (a body, a subscribe payload)."""
    if not isinstance(value, dict):
        raise InvalidParams("The request must be a JSON object.")
    query = value.get("query")
    variables = value.get("variables")
    operation_name = value.get("operationName")
    extensions = value.get("extensions")
    document_id = value.get("documentId", value.get("id"))
    if query is None and refers_to_persisted(value):
        query = ""  # named, not sent: resolved by ``resolve_document``
    elif not isinstance(query, str) or not query:
        raise InvalidParams("The query parameter must be a non-empty string.")
    if variables is not None and not isinstance(variables, dict):
        raise InvalidParams("The variables parameter must be an object.")
    if operation_name is not None and not isinstance(operation_name, str):
        raise InvalidParams("The operationName parameter must be a string.")
    if extensions is not None and not isinstance(extensions, dict):
        raise InvalidParams("The extensions parameter must be an object.")
    params = GraphQLParams(query, variables, operation_name, extensions, document_id)
    params.last_event_id  # noqa: B018 (checked now, so a bad one is refused before anything runs)
    return params


async def resolve_document(
    router: Router, params: GraphQLParams, options: RequestOptions
) -> GraphQLParams | PersistedRefusal:
    """The parameters with the document the request runs: persisted operation lookup,
    before any limit, cost or plan sees the document."""
    named: dict[str, Any] = {"query": params.query or None, "extensions": params.extensions}
    if params.operation_name is not None:
        named["operationName"] = params.operation_name
    if params.document_id is not None:
        named["documentId"] = params.document_id
    document = await router.persisted.document(
        named, registered_only=options.registered_operations_only, prepare=router.prepare
    )
    if isinstance(document, PersistedRefusal):
        return document
    return dataclasses.replace(params, query=document, document_id=None)


def operation_kind(
    router: Router, query: str, operation_name: str | None, variant: str | None = None
) -> str:
    """``query``, ``mutation`` or ``subscription``; raises ``OperationError`` when the
    document is refused (limits, parse, validation). A prepared document is not parsed again;
    one the router refuses to prepare is parsed within the same limits to see whether it is
    a subscription, whose own errors the subscription reports. ``variant`` is the request's
    schema variant (``RequestOptions.schema_variant``)."""
    try:
        return router.prepare(query, operation_name, variant).kind
    except OperationError as refused:
        if refused.kind in ("limits", "parse"):
            raise
        try:
            operation = select_operation(parse_within_limits(query, router.limits), operation_name)
        except Exception:
            raise refused from None
        if operation.operation == OperationType.SUBSCRIPTION:
            return "subscription"
        raise


@dataclass(frozen=True, slots=True)
class Single:
    """A one-result answer; ``refused`` when the operation never ran (its errors only)."""

    payload: dict[str, Any]

    @property
    def refused(self) -> bool:
        return "data" not in self.payload


async def start(
    router: Router,
    subscribe: Subscribe,
    params: GraphQLParams,
    kind: str,
    subscriber: Subscriber,
    *,
    headers: Mapping[str, str],
    last_event_id: str | None,
) -> Single | EventStream:
    """Run a query or mutation to its one result, or start a subscription."""
    if kind != "subscription":
        try:
            result = await router.execute(
                params.query,
                params.variables,
                params.operation_name,
                context=subscriber.context,
                headers=headers,
                forwarded=subscriber.forwarded,
                introspection=subscriber.options.introspection,
                cache=subscriber.options.cache,
                cost=subscriber.options.cost,
                authorization=subscriber.options.authorization,
                variant=subscriber.options.schema_variant,
                deprecated_use=subscriber.options.deprecated_use,
            )
        except OperationError as error:
            return Single({"errors": error.errors})
        return Single(result)
    outcome = await subscribe(
        params.query,
        params.variables,
        params.operation_name,
        context=subscriber.context,
        forwarded=subscriber.forwarded,
        options=subscriber.options,
        last_event_id=last_event_id,
        sharing_key=subscriber.sharing_key,
    )
    if isinstance(outcome, dict):
        return Single(outcome)
    return outcome


def refusal_payload(message: str, code: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


def router_subscribe(router: Router) -> Subscribe:
    """``router.subscribe``, or, for a router without subscriptions, one refusing them all."""
    found = getattr(router, "subscribe", None)
    if found is not None:
        return found  # type: ignore[no-any-return]

    async def unsupported(*_: Any, **__: Any) -> dict[str, Any]:
        return refusal_payload("Subscriptions are not supported by this router.", "NOT_SUPPORTED")

    return unsupported  # type: ignore[return-value]
