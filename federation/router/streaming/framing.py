"""How events are written on a long HTTP response: graphql-sse and Apollo's multipart.

Each framing turns the same few moments (the stream opens, an event, silence, the end, a
final error) into bytes; ``http_streams`` decides when each moment happens. ``event`` takes
the event already encoded (its payload with its id, as JSON: ``encoding.EncodedPayloads``,
once for all the subscribers it goes to).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

_SSE_ID_FORBIDDEN = ("\n", "\r", "\x00")


@dataclass(frozen=True, slots=True)
class SseFraming:
    """GraphQL over Server-Sent Events, distinct-connections mode (the graphql-sse library).

    ``event: next`` with the result as ``data``, ``event: complete`` at the end, comments as
    heartbeats; each event's id goes in an ``id:`` line, which a browser's ``EventSource``
    sends back as ``Last-Event-ID`` when it reconnects. A stream cut by a shutdown ends
    without ``complete``, so clients reconnect (and resume) rather than stop.
    """

    media_type: str = "text/event-stream; charset=utf-8"

    def opening(self) -> bytes:
        return b":\n\n"  # flushes the headers: some browsers wait for a first byte

    def heartbeat(self) -> bytes:
        return b":\n\n"

    def event(self, encoded: bytes, event_id: str | None) -> bytes:
        prefix = b""
        if event_id is not None and not any(c in event_id for c in _SSE_ID_FORBIDDEN):
            prefix = b"id: " + event_id.encode() + b"\n"
        return prefix + b"event: next\ndata: " + encoded + b"\n\n"

    def complete(self) -> bytes:
        return b"event: complete\ndata:\n\n"

    def single(self, payload: dict[str, Any]) -> bytes:
        return self.event(orjson.dumps(payload), None) + self.complete()

    def failure(self, errors: list[dict[str, Any]]) -> bytes:
        return self.event(orjson.dumps({"errors": errors}), None) + self.complete()

    def interrupted(self, errors: list[dict[str, Any]]) -> bytes:
        return b": " + errors[0]["message"].encode() + b"\n\n"


MULTIPART_BOUNDARY = "graphql"
_PART_HEAD = b"\r\n--graphql\r\ncontent-type: application/json\r\n\r\n"


@dataclass(frozen=True, slots=True)
class MultipartFraming:
    """Apollo's multipart HTTP subscriptions (``subscriptionSpec=1.0``).

    Every part is JSON: ``{"payload": result}`` per event (its id in
    ``payload.extensions.eventId``), ``{}`` as the heartbeat, ``{"payload": null, "errors":
    [...]}`` for an error that ends the subscription; ``--graphql--`` closes the body.
    """

    media_type: str = f'multipart/mixed;boundary="{MULTIPART_BOUNDARY}";subscriptionSpec="1.0"'

    def _part(self, value: object) -> bytes:
        return _PART_HEAD + orjson.dumps(value)

    def opening(self) -> bytes:
        return self._part({})

    def heartbeat(self) -> bytes:
        return self._part({})

    def event(self, encoded: bytes, event_id: str | None) -> bytes:
        return _PART_HEAD + b'{"payload":' + encoded + b"}"

    def complete(self) -> bytes:
        return b"\r\n--" + MULTIPART_BOUNDARY.encode() + b"--\r\n"

    def single(self, payload: dict[str, Any]) -> bytes:
        return self._part({"payload": payload}) + self.complete()

    def failure(self, errors: list[dict[str, Any]]) -> bytes:
        return self._part({"payload": None, "errors": errors}) + self.complete()

    def interrupted(self, errors: list[dict[str, Any]]) -> bytes:
        return self.failure(errors)


Framing = SseFraming | MultipartFraming
