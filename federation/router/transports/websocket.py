"""Subscriptions on a remote subgraph: GraphQL over WebSocket, ``graphql-transport-ws``.

The protocol of The Guild's graphql-ws library, which strawberry, Apollo Server, GraphQL
Yoga and most other servers speak: ``connection_init`` (answered by ``connection_ack``),
``subscribe``, then ``next`` per event, ``error`` or ``complete`` to end it, ``ping`` and
``pong`` either way. One connection per upstream subscription: identical client
subscriptions already share one upstream in the router, so connections scale with distinct
subscriptions, and closing one never disturbs another.

What the subgraph learns of the caller is what an HTTP fetch would send: the header rules'
fixed headers, the forwarded identity and trace headers, on the upgrade request and again
in the ``connection_init`` payload (where WebSocket servers conventionally read them). A
resuming subscriber's last event id goes in the ``subscribe`` message's
``extensions.lastEventId``. Failures reach the router as neutral ``SubgraphError``s; their
detail (address, close code, protocol violation) is logged here with the trace headers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.typing import Subprotocol

from federation.router.errors import SubgraphError, SubgraphInvalidResponse, SubgraphTimeout
from federation.router.headers import NO_CLIENT_HEADERS, HeaderPairs, HeaderRules
from federation.router.telemetry import with_current_trace
from federation.router.transports.base import SubgraphRequest

PROTOCOL = Subprotocol("graphql-transport-ws")
_OPERATION_ID = "1"
_logger = logging.getLogger("federation.router.subgraphs")


def websocket_url(http_url: str) -> str:
    """The subscription endpoint of a subgraph served at ``http_url`` (same path)."""
    if http_url.startswith("https://"):
        return "wss://" + http_url.removeprefix("https://")
    if http_url.startswith("http://"):
        return "ws://" + http_url.removeprefix("http://")
    return http_url


class WebSocketTransport:
    """Opens ``graphql-transport-ws`` subscriptions on one subgraph URL (``ws(s)://``).

    ``timeout`` bounds opening (connect, upgrade, acknowledgement), not the wait between
    events; a silent connection is detected by WebSocket pings. ``max_message_bytes``
    bounds one event.
    """

    def __init__(
        self,
        name: str,
        url: str,
        *,
        timeout: float = 30.0,
        header_rules: HeaderRules = NO_CLIENT_HEADERS,
        max_message_bytes: int = 1_048_576,
    ) -> None:
        self.name = name
        self.url = url
        self.timeout = timeout
        self.header_rules = header_rules
        self.max_message_bytes = max_message_bytes

    async def subscribe(
        self, request: SubgraphRequest, last_event_id: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        headers = (
            self.header_rules.apply(request.headers)
            + request.forwarded.identity_for(self.name)
            + with_current_trace(request.forwarded.trace)
        )
        try:
            connection = await self._open(headers)
        except SubgraphError as error:
            raise self._logged(error, request) from None
        finished = False
        try:
            await self._start(connection, headers, request, last_event_id)
            while True:
                message = _decode(self.name, await connection.recv())
                kind = message.get("type")
                if kind == "next" and message.get("id") == _OPERATION_ID:
                    yield _payload(self.name, message.get("payload"))
                elif kind == "error" and message.get("id") == _OPERATION_ID:
                    finished = True
                    errors = message.get("payload")
                    if not isinstance(errors, list):
                        raise SubgraphInvalidResponse(self.name, detail="error without a list")
                    yield {"data": None, "errors": errors}
                    return
                elif kind == "complete" and message.get("id") == _OPERATION_ID:
                    finished = True
                    return
                elif kind == "ping":
                    await connection.send(orjson.dumps({"type": "pong"}).decode())
                elif kind != "pong":
                    raise SubgraphInvalidResponse(self.name, detail=f"unexpected {kind!r}")
        except ConnectionClosed as error:
            finished = True
            raise self._logged(
                SubgraphError(self.name, detail=f"connection closed: {error}"), request
            ) from None
        except SubgraphError as error:
            raise self._logged(error, request) from None
        finally:
            await self._close(connection, finished)

    async def _open(self, headers: HeaderPairs) -> ClientConnection:
        try:
            async with asyncio.timeout(self.timeout):
                connection = await connect(
                    self.url,
                    subprotocols=[PROTOCOL],
                    additional_headers=list(headers),
                    proxy=None,
                    open_timeout=None,
                    close_timeout=2,
                    max_size=self.max_message_bytes,
                    user_agent_header=None,
                )
        except TimeoutError:
            raise SubgraphTimeout(self.name, detail=f"no connection in {self.timeout} s") from None
        except (OSError, WebSocketException) as error:
            raise SubgraphError(self.name, detail=f"{type(error).__name__}: {error}") from None
        if connection.subprotocol != PROTOCOL:
            await connection.close()
            raise SubgraphInvalidResponse(
                self.name, detail=f"subprotocol {connection.subprotocol!r} instead of {PROTOCOL}"
            )
        return connection

    async def _start(
        self,
        connection: ClientConnection,
        headers: HeaderPairs,
        request: SubgraphRequest,
        last_event_id: str | None,
    ) -> None:
        """``connection_init`` until ``connection_ack``, then ``subscribe``."""
        init = {"type": "connection_init", "payload": {"headers": dict(headers)}}
        await connection.send(orjson.dumps(init).decode())
        try:
            async with asyncio.timeout(self.timeout):
                while True:
                    message = _decode(self.name, await connection.recv())
                    if message.get("type") == "connection_ack":
                        break
                    if message.get("type") == "ping":
                        await connection.send(orjson.dumps({"type": "pong"}).decode())
                    elif message.get("type") != "pong":
                        raise SubgraphInvalidResponse(
                            self.name, detail=f"{message.get('type')!r} before connection_ack"
                        )
        except TimeoutError:
            detail = f"no connection_ack in {self.timeout} s"
            raise SubgraphTimeout(self.name, detail=detail) from None
        payload: dict[str, Any] = {"query": request.query}
        if request.variables:
            payload["variables"] = request.variables
        if last_event_id is not None:
            payload["extensions"] = {"lastEventId": last_event_id}
        message = {"id": _OPERATION_ID, "type": "subscribe", "payload": payload}
        await connection.send(orjson.dumps(message).decode())

    async def _close(self, connection: ClientConnection, finished: bool) -> None:
        """Tell the subgraph the subscription is over (unless it said so), then hang up."""
        with contextlib.suppress(Exception):
            if not finished:
                await connection.send(
                    orjson.dumps({"id": _OPERATION_ID, "type": "complete"}).decode()
                )
        with contextlib.suppress(Exception):
            await connection.close()

    def _logged(self, error: SubgraphError, request: SubgraphRequest) -> SubgraphError:
        trace = " ".join(f"{name}={value}" for name, value in request.forwarded.trace)
        _logger.warning(
            "subgraph %s at %s subscription failed (%s): %s [%s]",
            self.name,
            self.url,
            error.code,
            error.detail,
            trace,
        )
        return error


def _decode(name: str, raw: str | bytes) -> dict[str, Any]:
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        message = None
    if not isinstance(message, dict):
        raise SubgraphInvalidResponse(name, detail="a message that is not a JSON object")
    return message


def _payload(name: str, payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict) or ("data" not in payload and "errors" not in payload):
        raise SubgraphInvalidResponse(name, detail="a next message without data or errors")
    return payload
