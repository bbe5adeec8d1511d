"""GraphQL over HTTP (the GraphQL Foundation's specification) in front of a Router.

Media types and status codes follow the specification: a client accepting
``application/graphql-response+json`` gets 4xx for requests that cannot execute, one
accepting only ``application/json`` gets 200 with the errors in the body. GET serves
queries only (a mutation over GET is 405). GraphiQL is a page of its own (``/graphiql``), so
the endpoint never guesses from a request whether it comes from a browser.
Unexpected failures answer 500 with a generic message; no stack trace leaves the process.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import orjson
from graphql import OperationType, parse
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from federation.router.bodies import read_bounded
from federation.router.errors import OperationError
from federation.router.graphiql import graphiql_response
from federation.router.headers import NOTHING_FORWARDED, Forwarded
from federation.router.http_caching import cache_headers, matches, strong_etag
from federation.router.operation import select_operation
from federation.router.options import DEFAULT_OPTIONS, RequestOptions
from federation.router.persisted import PersistedRefusal
from federation.router.router import Executed, Router
from federation.router.streaming import http_streams, websocket
from federation.router.streaming.settings import DEFAULT_STREAM_SETTINGS, StreamSettings
from federation.router.streaming.shutdown import StreamShutdown
from federation.router.streaming.source import Identify, Subscribe, Subscriber

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
_PLAN_HEADER = "x-query-plan"
_logger = logging.getLogger("federation.router.http")

#: status, body, media type and extra headers of one answer
Answer = tuple[int, bytes, str, dict[str, str] | None]

OK, ERRORS, INVALID, FAILED = "ok", "errors", "invalid", "failed"
Report = Callable[[str | None, str], None]
"""``report(operation name, outcome)``, once per request, for the app's metrics. The outcome
is ``ok`` (executed, no error), ``errors`` (executed; errors, perhaps partial data),
``invalid`` (not executed: the request's fault, whatever the status) or ``failed`` (500). The
name is the ``operationName`` the client sent, else the executed operation's own; None when
anonymous or unknown. It is the client's text: bound it before it becomes a label."""

_REQUEST_ERRORS = ("limits", "parse", "validation", "variables", "cost")
"""Operation errors that are the request's fault: 400 for clients of the new media type."""

MAX_BODY_BYTES = 1_048_576
"""Default bound on a request body; a GraphQL operation with its variables fits well within."""


def build_app(
    router: Router,
    *,
    path: str = "/graphql",
    graphiql: bool = True,
    max_body_bytes: int = MAX_BODY_BYTES,
    options: RequestOptions = DEFAULT_OPTIONS,
    stream_settings: StreamSettings = DEFAULT_STREAM_SETTINGS,
    subscribe: Subscribe | None = None,
    identify: Identify | None = None,
    shutdown: StreamShutdown | None = None,
) -> ASGIApp:
    """An ASGI app serving ``router`` at ``path`` (and ``/``), ``/health`` and ``/graphiql``.

    The GraphQL paths also serve subscriptions: WebSocket (graphql-transport-ws) and, for
    requests accepting them, SSE and multipart streams. ``subscribe`` defaults to
    ``router.subscribe``; ``identify`` decides who a streaming client is (by default
    everyone, with ``options``); ``shutdown`` is what a server closes the streams with.
    """
    shutdown = shutdown or StreamShutdown()

    async def everyone(connection: HTTPConnection, _: object) -> Subscriber:
        return Subscriber(context={"request": connection}, options=options)

    shared = {
        "subscribe": subscribe,
        "identify": identify or everyone,
        "settings": stream_settings,
        "shutdown": shutdown,
    }
    streams = http_streams.GraphQLStreams(router, **shared)  # type: ignore[arg-type]
    websocket_endpoint = websocket.GraphQLWebSocket(router, **shared)  # type: ignore[arg-type]

    async def graphql_endpoint(request: Request) -> Response:
        if streams.wants_stream(request.headers):
            return await streams.handle(request)
        return await handle_graphql(router, request, max_body_bytes=max_body_bytes, options=options)

    async def graphiql_page(_: Request) -> Response:
        return graphiql_response(path)

    async def health(_: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type=JSON)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await shutdown.drain(stream_settings.slow_consumer_grace_s)
        await router.aclose()

    routes: list[BaseRoute] = [
        Route(path, graphql_endpoint, methods=["GET", "POST"]),
        WebSocketRoute(path, websocket_endpoint),
        Route("/health", health, methods=["GET"]),
    ]
    if path != "/":
        routes.append(Route("/", graphql_endpoint, methods=["GET", "POST"]))
        routes.append(WebSocketRoute("/", websocket_endpoint))
    if graphiql:
        routes.append(Route("/graphiql", graphiql_page, methods=["GET"]))
    app = Starlette(routes=routes, lifespan=lifespan)
    return _DirectPost(router, app, {path, "/"}, max_body_bytes, options)


class _DirectPost:
    """Answers POSTs to the GraphQL paths straight on ASGI; everything else goes to Starlette.

    POST is the hot path, and on it Starlette's middleware, routing and request/response
    objects cost as much CPU as planning-free execution of a small query. The semantics are
    the same as ``handle_graphql``'s: both run ``answer``.
    """

    def __init__(
        self,
        router: Router,
        app: ASGIApp,
        paths: set[str],
        max_body_bytes: int,
        options: RequestOptions,
    ) -> None:
        self.router = router
        self.app = app
        self.paths = frozenset(paths)
        self.max_body_bytes = max_body_bytes
        self.options = options

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope["headers"]:
            name = raw_name.decode("latin-1").lower()
            if name not in headers:
                headers[name] = raw_value.decode("latin-1")
        if http_streams.requested_framing(headers.get("accept", "")) is not None:
            await self.app(scope, receive, send)  # a stream: served by the routed endpoint
            return
        request = Request(scope, receive)
        try:
            body = await read_bounded(request, self.max_body_bytes)
            if body is None:
                status, payload, media_type, extra = _too_large(self.max_body_bytes)
            else:
                status, payload, media_type, extra = await answer(
                    self.router, "POST", headers, body, {}, request, self.options
                )
        except ClientDisconnect:
            return
        except Exception:  # never leak internals to clients
            _logger.exception("unhandled error while serving a GraphQL request")
            status, payload, media_type, extra = _internal_error()
        response_headers = [
            (b"content-type", media_type.encode("latin-1")),
            (b"content-length", b"%d" % len(payload)),
        ]
        for name, value in (extra or {}).items():
            response_headers.append((name.encode("latin-1"), value.encode("latin-1")))
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": payload})


def _reply(body: dict[str, Any], status: int, media_type: str, **headers: str) -> Answer:
    return status, orjson.dumps(body), media_type, headers or None


def _too_large(limit: int) -> Answer:
    return _reply({"errors": [{"message": f"The request body exceeds {limit} bytes."}]}, 413, JSON)


def _internal_error() -> Answer:
    return _reply({"errors": [{"message": "Internal server error"}]}, 500, JSON)


def _negotiate(accept: str) -> str | None:
    """The response media type for an Accept header, or None when none is acceptable."""
    if not accept.strip():
        return JSON
    best: tuple[float, int, str] | None = None
    for position, item in enumerate(accept.split(",")):
        parts = [p.strip() for p in item.split(";")]
        media = parts[0].lower()
        quality = 1.0
        for parameter in parts[1:]:
            if parameter.startswith("q="):
                try:
                    quality = float(parameter[2:])
                except ValueError:
                    quality = 0.0
        if quality <= 0:
            continue
        if media == GRAPHQL_RESPONSE:
            chosen = GRAPHQL_RESPONSE
        elif media in (JSON, "application/*", "*/*"):
            # Wildcards keep the legacy media type, as the specification's watershed advises.
            chosen = JSON
        else:
            continue
        candidate = (quality, -position, chosen)
        if best is None or candidate > best:
            best = candidate
    return best[2] if best else None


async def handle_graphql(
    router: Router,
    request: Request,
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
    options: RequestOptions = DEFAULT_OPTIONS,
    forwarded: Forwarded = NOTHING_FORWARDED,
    report: Report | None = None,
) -> Response:
    """One GraphQL-over-HTTP request; any app that routes to it gets the same semantics.

    ``forwarded`` is what the app adds to this request's subgraph requests (identity, trace);
    ``report`` is told the operation's name and the outcome (see ``Report``).
    """
    try:
        body = await read_bounded(request, max_body_bytes) if request.method == "POST" else b""
        if body is None:
            status, payload, media_type, extra = _too_large(max_body_bytes)
            if report is not None:
                report(None, INVALID)
        else:
            status, payload, media_type, extra = await answer(
                router,
                request.method,
                request.headers,
                body,
                request.query_params,
                request,
                options,
                forwarded,
                report=report,
            )
    except Exception:  # never leak internals to clients
        _logger.exception("unhandled error while serving a GraphQL request")
        status, payload, media_type, extra = _internal_error()
        if report is not None:
            report(None, FAILED)
    return Response(payload, status_code=status, media_type=media_type, headers=extra)


async def answer(
    router: Router,
    method: str,
    headers: Mapping[str, str],
    body: bytes,
    query_params: Mapping[str, str],
    request: Request,
    options: RequestOptions,
    forwarded: Forwarded = NOTHING_FORWARDED,
    *,
    context: Any = None,
    report: Report | None = None,
) -> Answer:
    """The answer to one GraphQL request, from primitives: no framework objects needed.

    ``context`` reaches resolvers; by default it holds the ``request``. ``report`` is told the
    operation's name and the outcome (see ``Report``)."""
    outcome, name, reply = await _answer(
        router, method, headers, body, query_params, request, options, forwarded, context
    )
    if report is not None:
        report(name, outcome)
    return reply


async def _answer(
    router: Router,
    method: str,
    headers: Mapping[str, str],
    body: bytes,
    query_params: Mapping[str, str],
    request: Request,
    options: RequestOptions,
    forwarded: Forwarded,
    context: Any,
) -> tuple[str, str | None, Answer]:
    """The outcome, the operation's name as far as it is known, and the answer."""
    reported: str | None = None
    media_type = _negotiate(headers.get("accept", ""))
    if media_type is None:
        return (
            INVALID,
            reported,
            _reply(
                {"errors": [{"message": "Not acceptable: use application/graphql-response+json"}]},
                406,
                JSON,
            ),
        )
    if method == "POST":
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in (JSON, GRAPHQL_RESPONSE):
            return (
                INVALID,
                reported,
                _reply(
                    {"errors": [{"message": "Unsupported media type: send application/json"}]},
                    415,
                    media_type,
                ),
            )
        try:
            params = orjson.loads(body)
        except orjson.JSONDecodeError:
            return (
                INVALID,
                reported,
                _bad_request("The request body is not valid JSON.", media_type),
            )
    else:
        params = dict(query_params)
        for name in ("variables", "extensions"):
            if isinstance(params.get(name), str):
                try:
                    params[name] = orjson.loads(params[name])
                except orjson.JSONDecodeError:
                    return (
                        INVALID,
                        reported,
                        _bad_request(f"The {name} parameter is not valid JSON.", media_type),
                    )
    if not isinstance(params, dict):
        return (
            INVALID,
            reported,
            _bad_request("The request body must be a JSON object.", media_type),
        )
    variables = params.get("variables")
    operation_name = params.get("operationName")
    if isinstance(operation_name, str):
        reported = operation_name
    query = await router.persisted.document(
        params,
        registered_only=options.registered_operations_only,
        prepare=router.prepare,
    )
    if isinstance(query, PersistedRefusal):
        return INVALID, reported, _persisted_refusal(query, media_type)
    if variables is not None and not isinstance(variables, dict):
        return (
            INVALID,
            reported,
            _bad_request("The variables parameter must be an object.", media_type),
        )
    if operation_name is not None and not isinstance(operation_name, str):
        return (
            INVALID,
            reported,
            _bad_request("The operationName parameter must be a string.", media_type),
        )
    if method == "GET" and _is_mutation(router, query, operation_name, options.schema_variant):
        return (
            INVALID,
            reported,
            _reply(
                {"errors": [{"message": "Only queries can be sent with GET; use POST."}]},
                405,
                media_type,
                allow="POST",
            ),
        )
    asks_for_plan = headers.get(_PLAN_HEADER, "").lower() in ("true", "1", "yes")
    arguments: dict[str, Any] = {
        "context": context if context is not None else {"request": request},
        "headers": headers,
        "forwarded": forwarded,
        "include_plan": asks_for_plan and options.query_plan,
        "introspection": options.introspection,
        "cost": options.cost,
        "authorization": options.authorization,
        "variant": options.schema_variant,
        "deprecated_use": options.deprecated_use,
    }
    cached = options.cache is not None and router.caching is not None
    try:
        if cached:
            executed = await router.run(
                query, variables, operation_name, cache=options.cache, **arguments
            )
        else:
            executed = Executed(await router.execute(query, variables, operation_name, **arguments))
    except OperationError as error:
        status = 200
        if media_type == GRAPHQL_RESPONSE and error.kind in _REQUEST_ERRORS:
            status = 400
        return INVALID, reported, _reply({"errors": error.errors}, status, media_type)
    reported = router.operation_name(query, operation_name, options.schema_variant)
    outcome = ERRORS if "errors" in executed.result else OK
    if method == "GET" and cached and router.caching is not None:
        vary = router.caching.settings.vary
        return outcome, reported, _cacheable_reply(executed, headers, media_type, vary)
    return outcome, reported, _reply(executed.result, 200, media_type)


def _cacheable_reply(
    executed: Executed, headers: Mapping[str, str], media_type: str, vary: tuple[str, ...]
) -> Answer:
    """A GET answer with its HTTP caching headers, or 304 when the client holds its body."""
    body = orjson.dumps(executed.result)
    extra = cache_headers(executed.policy, executed.age_s, vary)
    if executed.policy.cacheable:
        extra["etag"] = strong_etag(body)
        if matches(headers.get("if-none-match"), extra["etag"]):
            return 304, b"", media_type, extra
    return 200, body, media_type, extra


def _persisted_refusal(refusal: PersistedRefusal, media_type: str) -> Answer:
    status = refusal.status
    if status is None:
        status = 400 if media_type == GRAPHQL_RESPONSE else 200
    return _reply({"errors": refusal.errors}, status, media_type, **(refusal.headers or {}))


def _bad_request(message: str, media_type: str) -> Answer:
    return _reply({"errors": [{"message": message}]}, 400, media_type)


def _is_mutation(
    router: Router, query: str, operation_name: str | None, variant: str | None = None
) -> bool:
    """Whether a GET asks for anything but a query; prepared documents are not parsed again."""
    try:
        return router.prepare(query, operation_name, variant).kind != "query"
    except OperationError as error:
        if error.kind in ("limits", "parse"):
            return False  # refused before parsing completed; never parsed again here
    try:
        operation = select_operation(parse(query), operation_name)
    except Exception:
        return False
    return operation.operation != OperationType.QUERY
