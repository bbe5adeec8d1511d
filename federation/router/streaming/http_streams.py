"""Subscriptions (and one-result operations) over a long HTTP response: SSE and multipart.

The client says which by its ``Accept`` header: ``text/event-stream`` (graphql-sse,
distinct connections) or ``multipart/mixed;subscriptionSpec=1.0`` (Apollo Client). A
request that is not a GraphQL request at all gets a plain JSON 4xx, as graphql-sse does;
once the request is sound, the response is a stream and even a refused document is an
event in it (the protocols say so: a browser's EventSource cannot read an error body).
A multipart request for a query or mutation gets the ordinary GraphQL-over-HTTP answer.

Resume: ``Last-Event-ID`` (sent by EventSource on reconnection) or
``extensions.lastEventId`` is passed to the router as ``last_event_id``. A subscription whose
credential lapses (``Subscriber.lapse``) ends with an ``UNAUTHENTICATED`` error saying why.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from federation.router import http_app  # a module: http_app serves these streams too
from federation.router.bodies import read_bounded
from federation.router.errors import OperationError
from federation.router.persisted import PersistedRefusal
from federation.router.router import Router
from federation.router.streaming.credential_lapse import lapsed_errors, watch_lapse
from federation.router.streaming.delivery import (
    Ending,
    deliver,
    internal_errors,
    shutdown_errors,
    slow_consumer_errors,
)
from federation.router.streaming.encoding import EncodedPayloads
from federation.router.streaming.framing import Framing, MultipartFraming, SseFraming
from federation.router.streaming.operations import (
    GraphQLParams,
    InvalidParams,
    Single,
    operation_kind,
    parse_params,
    resolve_document,
    resume_id,
    router_subscribe,
    start,
)
from federation.router.streaming.settings import DEFAULT_STREAM_SETTINGS, StreamSettings
from federation.router.streaming.shutdown import StreamShutdown
from federation.router.streaming.source import (
    ADMITTED,
    Admission,
    Identify,
    Refusal,
    StreamEvent,
    Subscribe,
    Subscriber,
    open_identify,
)

JSON = "application/json"
_logger = logging.getLogger("federation.router.streaming")


def requested_framing(accept: str) -> Framing | None:
    """The stream the ``Accept`` header asks for (the first one it lists), if any."""
    for item in accept.split(","):
        media, *parameters = (part.strip() for part in item.split(";"))
        names = {p.partition("=")[0].strip().lower(): p.partition("=")[2] for p in parameters}
        if names.get("q", "1").strip() in ("0", "0.0", "0.00", "0.000"):
            continue
        media = media.lower()
        if media == "text/event-stream":
            return SseFraming()
        if media == "multipart/mixed":
            spec = names.get("subscriptionspec", "").strip().strip("'\"")
            if spec.startswith("1.0"):
                return MultipartFraming()
    return None


class GraphQLStreams:
    """Serves the GraphQL requests that ask for a stream; ``wants_stream`` tells which do."""

    def __init__(
        self,
        router: Router,
        *,
        subscribe: Subscribe | None = None,
        identify: Identify = open_identify,
        settings: StreamSettings = DEFAULT_STREAM_SETTINGS,
        shutdown: StreamShutdown | None = None,
    ) -> None:
        self.router = router
        self.subscribe: Subscribe = subscribe or router_subscribe(router)
        self.identify = identify
        self.settings = settings
        self.shutdown = shutdown or StreamShutdown()
        self.payloads = EncodedPayloads()

    @staticmethod
    def wants_stream(headers: Mapping[str, str]) -> bool:
        return requested_framing(headers.get("accept", "")) is not None

    async def handle(self, request: Request) -> Response:
        framing = requested_framing(request.headers.get("accept", ""))
        if framing is None:
            return _error(406, "Not acceptable: ask for text/event-stream or multipart/mixed")
        if self.shutdown.closing:
            return _error(503, "The server is shutting down.", retry_after="1")
        try:
            params = await self._params(request)
        except ClientDisconnect:
            return Response(status_code=400)
        if isinstance(params, Response):
            return params
        try:
            last_event_id = (
                resume_id(request.headers.get("last-event-id"), "Last-Event-ID")
                or params.last_event_id
            )
        except InvalidParams as error:
            return _error(400, str(error))
        decided = await self.identify(request, None)
        if isinstance(decided, Refusal):
            code = "FORBIDDEN" if decided.http_status == 403 else "UNAUTHENTICATED"
            return _error(decided.http_status, decided.message, code=code)
        resolved = await resolve_document(self.router, params, decided.options)
        if isinstance(resolved, PersistedRefusal):
            if resolved.status == 400:
                return _error(400, resolved.message, code=resolved.code or None)
            return _Stream(self, framing, request, prepared={"errors": resolved.errors})
        params = resolved
        try:
            kind = operation_kind(
                self.router, params.query, params.operation_name, decided.options.schema_variant
            )
        except OperationError as error:
            return _Stream(self, framing, request, prepared={"errors": error.errors})
        if isinstance(framing, MultipartFraming) and kind != "subscription":
            return await self._answer_plainly(request, params, decided)
        if request.method == "GET" and kind == "mutation":
            return _error(405, "Only queries and subscriptions can be sent with GET; use POST.")
        admission = ADMITTED
        if kind == "subscription":
            transport = "sse" if isinstance(framing, SseFraming) else "multipart"
            admission = await decided.admit(kind, transport)
            if admission.refused:
                body = orjson.dumps({"errors": list(admission.errors)})
                return Response(
                    body, admission.status, media_type=JSON, headers=dict(admission.headers)
                )
        return _Stream(
            self,
            framing,
            request,
            params=params,
            kind=kind,
            subscriber=decided,
            last_event_id=last_event_id,
            admission=admission,
        )

    async def _params(self, request: Request) -> GraphQLParams | Response:
        if request.method == "POST":
            content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type != JSON:
                return _error(415, "Unsupported media type: send application/json")
            body = await read_bounded(request, self.settings.max_body_bytes)
            if body is None:
                limit = self.settings.max_body_bytes
                return _error(413, f"The request body exceeds {limit} bytes.")
            try:
                decoded: object = orjson.loads(body)
            except orjson.JSONDecodeError:
                return _error(400, "The request body is not valid JSON.")
        else:
            decoded = dict(request.query_params)
            for name in ("variables", "extensions"):
                if isinstance(decoded.get(name), str):
                    try:
                        decoded[name] = orjson.loads(decoded[name])
                    except orjson.JSONDecodeError:
                        return _error(400, f"The {name} parameter is not valid JSON.")
        try:
            return parse_params(decoded)
        except InvalidParams as error:
            return _error(400, str(error))

    async def _answer_plainly(
        self, request: Request, params: GraphQLParams, subscriber: Subscriber
    ) -> Response:
        """A query or mutation asked with a multipart Accept: the ordinary HTTP answer."""
        body = orjson.dumps(
            {
                "query": params.query,
                "variables": params.variables,
                "operationName": params.operation_name,
            }
        )
        headers = {name: value for name, value in request.headers.items()}
        headers["content-type"] = JSON
        status, payload, media_type, extra = await http_app.answer(
            self.router,
            "POST",
            headers,
            body,
            {},
            request,
            subscriber.options,
            subscriber.forwarded,
            context=subscriber.context,
        )
        return Response(payload, status_code=status, media_type=media_type, headers=extra)


def _error(status: int, message: str, *, code: str | None = None, **headers: str) -> Response:
    error: dict[str, Any] = {"message": message}
    if code is not None:
        error["extensions"] = {"code": code}
    extra = {name.replace("_", "-"): value for name, value in headers.items()}
    return Response(orjson.dumps({"errors": [error]}), status, media_type=JSON, headers=extra)


class _Stream(Response):
    """The streamed answer: written straight on ASGI, so nothing buffers it."""

    def __init__(
        self,
        streams: GraphQLStreams,
        framing: Framing,
        request: Request,
        *,
        prepared: dict[str, Any] | None = None,
        params: GraphQLParams | None = None,
        kind: str = "query",
        subscriber: Subscriber | None = None,
        last_event_id: str | None = None,
        admission: Admission = ADMITTED,
    ) -> None:
        self.streams = streams
        self.admission = admission
        self.framing = framing
        self.request = request
        self.prepared = prepared
        self.params = params
        self.kind = kind
        self.subscriber = subscriber
        self.last_event_id = last_event_id
        self.status_code = 200
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._serve(receive, send)
        finally:
            self.admission.end()

    async def _serve(self, receive: Receive, send: Send) -> None:
        disconnected = asyncio.Event()

        async def watch() -> None:
            while True:
                message: Message = await receive()
                if message["type"] == "http.disconnect":
                    disconnected.set()
                    return

        headers = [
            (b"content-type", self.framing.media_type.encode()),
            (b"cache-control", b"no-cache, no-transform"),
            (b"x-accel-buffering", b"no"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        watcher = asyncio.create_task(watch())
        try:
            with self.streams.shutdown.track():
                await self._write(send, self.framing.opening())
                closing = await self._run(send, disconnected)
                # A client that stopped reading may never take the last bytes: bounded.
                grace = self.streams.settings.slow_consumer_grace_s
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._write(send, closing, more=False), grace)
        except OSError:
            pass
        finally:
            watcher.cancel()
            with contextlib.suppress(BaseException):
                await watcher

    async def _write(self, send: Send, chunk: bytes, *, more: bool = True) -> None:
        await send({"type": "http.response.body", "body": chunk, "more_body": more})

    async def _run(self, send: Send, disconnected: asyncio.Event) -> bytes:
        """Writes the events; returns the closing bytes."""
        framing, streams = self.framing, self.streams
        if self.prepared is not None:
            return framing.single(self.prepared)
        assert self.params is not None and self.subscriber is not None
        try:
            outcome = await start(
                streams.router,
                streams.subscribe,
                self.params,
                self.kind,
                self.subscriber,
                headers=self.request.headers,
                last_event_id=self.last_event_id,
            )
        except OperationError as error:
            return framing.single({"errors": error.errors})
        except Exception:
            _logger.exception("a streamed operation failed to start")
            return framing.failure(internal_errors())
        if isinstance(outcome, Single):
            return framing.single(outcome.payload)

        payloads = streams.payloads

        async def send_event(event: StreamEvent) -> None:
            await self._write(send, framing.event(payloads.json(event), event.event_id))

        async def heartbeat() -> None:
            await self._write(send, framing.heartbeat())

        lapsed: list[str] = []

        def lapse(reason: str) -> None:
            lapsed.append(reason)
            disconnected.set()  # delivery stops as for a client gone, then the client is told

        watching = asyncio.create_task(watch_lapse(self.subscriber, lapse))
        try:
            ending = await deliver(
                outcome,
                send_event,
                settings=streams.settings,
                shutdown=streams.shutdown,
                heartbeat=heartbeat,
                disconnected=disconnected,
            )
        finally:
            watching.cancel()
        if lapsed:
            return framing.failure(lapsed_errors(lapsed[0]))
        if ending is Ending.COMPLETED:
            return framing.complete()
        if ending is Ending.SLOW_CONSUMER:
            return framing.failure(slow_consumer_errors(streams.settings))
        if ending is Ending.SHUTDOWN:
            return framing.interrupted(shutdown_errors())
        if ending is Ending.FAILED:
            return framing.failure(internal_errors())
        return b""
