"""GraphQL over WebSocket, the ``graphql-transport-ws`` sub-protocol of the graphql-ws library.

One connection: ``connection_init`` (within ``connection_init_timeout_s``, once) → the app's
``Identify`` decides who the client is → ``connection_ack``; then any number of operations,
each ``subscribe`` answered by ``next`` messages and ``complete`` (or one ``error`` when it
cannot run); ``ping``/``pong`` either way. Queries and mutations run too: one ``next``, then
``complete``. Every protocol violation closes the socket with the code the protocol gives it
(4400 bad message, 4401 unauthorized, 4403 forbidden, 4406 sub-protocol, 4408 init timeout,
4409 duplicate id, 4429 repeated init); a message over ``max_message_bytes`` closes with 1009,
a slow consumer with 1008 after an ``error`` naming it, a server shutdown with 1001, a
connection whose credential lapses (``Subscriber.lapse``) with 4401 and the reason.

Resume: a ``connection_init`` payload ``lastEventId`` applies to every subscription of the
connection, a subscribe message's ``extensions.lastEventId`` to its own; each ``next`` carries
its event's id in ``payload.extensions.eventId``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from federation.router.errors import OperationError
from federation.router.persisted import PersistedRefusal
from federation.router.router import Router
from federation.router.streaming.credential_lapse import watch_lapse
from federation.router.streaming.delivery import (
    Ending,
    deliver,
    internal_errors,
    slow_consumer_errors,
)
from federation.router.streaming.encoding import EncodedPayloads
from federation.router.streaming.operations import (
    GraphQLParams,
    InvalidParams,
    Single,
    operation_kind,
    parse_params,
    refusal_payload,
    resolve_document,
    resume_id,
    router_subscribe,
    start,
)
from federation.router.streaming.settings import DEFAULT_STREAM_SETTINGS, StreamSettings
from federation.router.streaming.shutdown import StreamShutdown
from federation.router.streaming.source import (
    EventStream,
    Identify,
    Refusal,
    StreamEvent,
    Subscribe,
    Subscriber,
    open_identify,
)

GRAPHQL_TRANSPORT_WS = "graphql-transport-ws"

GOING_AWAY = 1001
POLICY_VIOLATION = 1008
MESSAGE_TOO_BIG = 1009
INTERNAL_ERROR = 1011
BAD_MESSAGE = 4400
UNAUTHORIZED = 4401
FORBIDDEN = 4403
SUBPROTOCOL_NOT_ACCEPTABLE = 4406
INIT_TIMEOUT = 4408
DUPLICATE_SUBSCRIBER = 4409
TOO_MANY_INIT_REQUESTS = 4429

MAX_OPERATION_ID_LENGTH = 128
_logger = logging.getLogger("federation.router.streaming")


class ClientGone(Exception):
    """A write failed: the client disconnected (the connection is being torn down)."""


class GraphQLWebSocket:
    """ASGI endpoint for WebSocket connections speaking ``graphql-transport-ws``."""

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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await serve_websocket(self, WebSocket(scope, receive, send))


async def serve_websocket(endpoint: GraphQLWebSocket, websocket: WebSocket) -> None:
    """Serve one connection until either side closes it."""
    if GRAPHQL_TRANSPORT_WS not in websocket.scope.get("subprotocols", ()):
        await websocket.accept()
        await websocket.close(SUBPROTOCOL_NOT_ACCEPTABLE, "Subprotocol not acceptable")
        return
    await websocket.accept(subprotocol=GRAPHQL_TRANSPORT_WS)
    if endpoint.shutdown.closing:
        await websocket.close(GOING_AWAY, "Server shutting down")
        return
    with endpoint.shutdown.track():
        await _Connection(endpoint, websocket).run()


class _Connection:
    """The state of one WebSocket connection; only ``run`` closes it."""

    def __init__(self, endpoint: GraphQLWebSocket, websocket: WebSocket) -> None:
        self.endpoint = endpoint
        self.settings = endpoint.settings
        self.websocket = websocket
        self.subscriber: Subscriber | None = None
        self.init_received = False
        self.identified = asyncio.Event()
        self.last_event_id: str | None = None
        self.operations: dict[str, asyncio.Task[None]] = {}
        self.finished = asyncio.Event()
        self.closing: tuple[int, str, dict[str, Any] | None] | None = None
        self.writing = asyncio.Lock()
        self.loop = asyncio.get_running_loop()
        self.last_sent = self.loop.time()

    # -- lifecycle ----------------------------------------------------------------------------

    async def run(self) -> None:
        helpers = [
            asyncio.create_task(self._read()),
            asyncio.create_task(self._await_init()),
            asyncio.create_task(self._beat()),
            asyncio.create_task(self._await_shutdown()),
            asyncio.create_task(self._await_lapse()),
        ]
        try:
            await self.finished.wait()
        finally:
            running = [*helpers, *self.operations.values()]
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            if self.closing is not None:
                await self._send_closing(*self.closing)

    def close(self, code: int, reason: str, notice: dict[str, Any] | None = None) -> None:
        """Ask ``run`` to close with ``code`` (after ``notice``, when given); first ask wins."""
        if self.closing is None and not self.finished.is_set():
            self.closing = (code, reason, notice)
        self.finished.set()

    async def _send_closing(self, code: int, reason: str, notice: dict[str, Any] | None) -> None:
        grace = self.settings.slow_consumer_grace_s
        with contextlib.suppress(Exception):
            if notice is not None:
                await asyncio.wait_for(self._send_raw(notice), grace)
            reason = reason.encode()[:120].decode(errors="ignore")  # a close frame holds 123
            await asyncio.wait_for(self.websocket.close(code, reason), grace)

    async def _await_init(self) -> None:
        await asyncio.sleep(self.settings.connection_init_timeout_s)
        if not self.init_received:
            self.close(INIT_TIMEOUT, "Connection initialisation timeout")

    async def _await_shutdown(self) -> None:
        await self.endpoint.shutdown.wait()
        self.close(GOING_AWAY, "Server shutting down")

    async def _await_lapse(self) -> None:
        await self.identified.wait()
        assert self.subscriber is not None
        await watch_lapse(self.subscriber, lambda reason: self.close(UNAUTHORIZED, reason))

    async def _beat(self) -> None:
        """A ``ping`` after ``heartbeat_s`` without a message: a connection that carries
        events is known to be alive without one."""
        while True:
            quiet_s = self.loop.time() - self.last_sent
            if quiet_s >= self.settings.heartbeat_s:
                await self._send({"type": "ping"})
            else:
                await asyncio.sleep(self.settings.heartbeat_s - quiet_s)

    # -- receiving ----------------------------------------------------------------------------

    async def _read(self) -> None:
        limit = self.settings.max_message_bytes
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                self.finished.set()
                return
            text = message.get("text")
            if text is None:
                self.close(BAD_MESSAGE, "Binary messages are not supported")
                return
            if len(text) > limit or (len(text) > limit // 4 and len(text.encode()) > limit):
                self.close(MESSAGE_TOO_BIG, f"Message over {limit} bytes")
                return
            try:
                decoded = orjson.loads(text)
            except orjson.JSONDecodeError:
                self.close(BAD_MESSAGE, "Invalid message received: not JSON")
                return
            problem = await self._handle(decoded)
            if problem is not None:
                self.close(*problem)
                return

    async def _handle(self, message: object) -> tuple[int, str] | None:
        """Act on one decoded message; what to close with when it breaks the protocol."""
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            return BAD_MESSAGE, "Invalid message received: no type"
        kind = message["type"]
        if kind == "ping":
            pong: dict[str, Any] = {"type": "pong"}
            if isinstance(message.get("payload"), dict):
                pong["payload"] = message["payload"]
            await self._send(pong)
            return None
        if kind == "pong":
            return None
        if kind == "connection_init":
            return await self._initialise(message.get("payload"))
        if kind == "subscribe":
            return self._subscribe(message)
        if kind == "complete":
            operation_id = message.get("id")
            if not isinstance(operation_id, str) or not operation_id:
                return BAD_MESSAGE, "Invalid message received: complete without an id"
            task = self.operations.pop(operation_id, None)
            if task is not None:
                task.cancel()
            return None
        return BAD_MESSAGE, f"Invalid message received: unknown type {kind[:40]!r}"

    async def _initialise(self, payload: object) -> tuple[int, str] | None:
        if self.init_received:
            return TOO_MANY_INIT_REQUESTS, "Too many initialisation requests"
        self.init_received = True
        if payload is None:
            payload = {}
        if not isinstance(payload, dict):
            return BAD_MESSAGE, "Invalid message received: connection_init payload not an object"
        try:
            self.last_event_id = resume_id(payload.get("lastEventId"), "lastEventId")
        except InvalidParams as error:
            return BAD_MESSAGE, f"Invalid message received: {error}"
        try:
            decided = await self.endpoint.identify(self.websocket, payload)
        except Exception:
            _logger.exception("identifying a WebSocket client failed")
            return INTERNAL_ERROR, "Internal server error"
        if isinstance(decided, Refusal):
            return decided.code, decided.message
        self.subscriber = decided
        self.identified.set()
        await self._send({"type": "connection_ack"})
        return None

    def _subscribe(self, message: dict[str, Any]) -> tuple[int, str] | None:
        if self.subscriber is None:
            return UNAUTHORIZED, "Unauthorized"
        operation_id = message.get("id")
        if not isinstance(operation_id, str) or not operation_id:
            return BAD_MESSAGE, "Invalid message received: subscribe without an id"
        if len(operation_id) > MAX_OPERATION_ID_LENGTH:
            return BAD_MESSAGE, f"Invalid message received: id over {MAX_OPERATION_ID_LENGTH}"
        try:
            params = parse_params(message.get("payload"))
        except InvalidParams as error:
            return BAD_MESSAGE, f"Invalid message received: {error}"[:120]
        if operation_id in self.operations:
            return DUPLICATE_SUBSCRIBER, f"Subscriber for {operation_id[:80]} already exists"
        cap = self.settings.max_subscriptions_per_connection
        if len(self.operations) >= cap:
            refusal = refusal_payload(
                f"Too many operations on this connection: at most {cap} may run at once.",
                "TOO_MANY_OPERATIONS",
            )
            self.operations[operation_id] = asyncio.create_task(
                self._finish(operation_id, "error", refusal["errors"])
            )
            return None
        self.operations[operation_id] = asyncio.create_task(self._operate(operation_id, params))
        return None

    # -- operations ---------------------------------------------------------------------------

    async def _operate(self, operation_id: str, params: GraphQLParams) -> None:
        assert self.subscriber is not None
        subscriber = self.subscriber
        if isinstance(subscriber.context, dict):  # resolvers may keep per-operation state in it
            subscriber = dataclasses.replace(subscriber, context=dict(subscriber.context))
        router = self.endpoint.router
        refused: OperationError | None = None
        try:
            resolved = await resolve_document(router, params, subscriber.options)
        except Exception:
            _logger.exception("looking up a persisted operation failed")
            await self._finish(operation_id, "error", internal_errors())
            return
        if isinstance(resolved, PersistedRefusal):
            refused, kind = OperationError(resolved.errors, kind="persisted"), "invalid"
        else:
            params = resolved
            try:
                kind = operation_kind(
                    router, params.query, params.operation_name, subscriber.options.schema_variant
                )
            except OperationError as error:
                refused, kind = error, "invalid"
        try:
            admission = await subscriber.admit(kind, "websocket")
        except Exception:
            _logger.exception("admitting a WebSocket operation failed")
            await self._finish(operation_id, "error", internal_errors())
            return
        if admission.refused:
            await self._finish(operation_id, "error", list(admission.errors))
            return
        try:
            await self._run_admitted(operation_id, params, kind, subscriber, refused)
        finally:
            admission.end()

    async def _run_admitted(
        self,
        operation_id: str,
        params: GraphQLParams,
        kind: str,
        subscriber: Subscriber,
        refused: OperationError | None,
    ) -> None:
        if refused is not None:
            await self._finish(operation_id, "error", refused.errors)
            return
        try:
            outcome = await start(
                self.endpoint.router,
                self.endpoint.subscribe,
                params,
                kind,
                subscriber,
                headers=self.websocket.headers,
                last_event_id=params.last_event_id or self.last_event_id,
            )
        except OperationError as error:
            await self._finish(operation_id, "error", error.errors)
            return
        except Exception:
            _logger.exception("a WebSocket operation failed to start")
            await self._finish(operation_id, "error", internal_errors())
            return
        if isinstance(outcome, Single):
            await self._answer_once(operation_id, outcome)
            return
        await self._stream(operation_id, outcome)

    async def _answer_once(self, operation_id: str, single: Single) -> None:
        if single.refused:
            await self._finish(operation_id, "error", single.payload.get("errors") or [])
            return
        await self._send({"id": operation_id, "type": "next", "payload": single.payload})
        await self._finish(operation_id, "complete")

    async def _stream(self, operation_id: str, stream: EventStream) -> None:
        # The payload is encoded once per event for every subscriber; the id is framed around.
        head = '{"id":' + orjson.dumps(operation_id).decode() + ',"type":"next","payload":'
        payloads = self.endpoint.payloads

        async def send_next(event: StreamEvent) -> None:
            await self._send_text(head + payloads.text(event) + "}")

        ending = await deliver(
            stream, send_next, settings=self.settings, shutdown=self.endpoint.shutdown
        )
        if ending is Ending.COMPLETED:
            await self._finish(operation_id, "complete")
        elif ending is Ending.FAILED:
            await self._finish(operation_id, "error", internal_errors())
        elif ending is Ending.SLOW_CONSUMER:
            notice = slow_consumer_errors(self.settings)
            error = {"id": operation_id, "type": "error", "payload": notice}
            self.close(POLICY_VIOLATION, "Slow consumer", error)
        elif ending is Ending.SHUTDOWN:
            self.close(GOING_AWAY, "Server shutting down")
        else:
            self.finished.set()

    async def _finish(self, operation_id: str, kind: str, errors: object = None) -> None:
        """The operation's last message; its id is free again before the client sees it."""
        if self.operations.get(operation_id) is asyncio.current_task():
            del self.operations[operation_id]
        message: dict[str, Any] = {"id": operation_id, "type": kind}
        if kind == "error":
            message["payload"] = errors
        await self._send(message)

    # -- sending ------------------------------------------------------------------------------

    async def _send(self, message: Mapping[str, Any]) -> None:
        try:
            await self._send_raw(message)
        except Exception as error:  # the connection is gone under the write
            self.finished.set()
            raise ClientGone from error

    async def _send_text(self, text: str) -> None:
        """``_send`` for a message already encoded."""
        try:
            await self._write(text)
        except Exception as error:
            self.finished.set()
            raise ClientGone from error

    async def _send_raw(self, message: Mapping[str, Any]) -> None:
        await self._write(orjson.dumps(message).decode())

    async def _write(self, text: str) -> None:
        async with self.writing:
            await self.websocket.send_text(text)
            self.last_sent = self.loop.time()
