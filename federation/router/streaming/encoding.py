"""Each event's payload encoded as JSON once, however many subscribers it goes to.

Subscribers that share an upstream subscription receive the very same event object, and
the upstream hands it to all of them before any of their writers runs, so the writers run
one after another with that one event. Remembering the last event encoded (by identity, and
holding it, so another event cannot take its place) spares all but the first of them the
encoding; what differs per subscriber (the WebSocket operation id, an SSE ``id:`` line) is
framed around the encoded bytes. An event's payload is never changed once made
(``federation.router.subscriptions``), so neither is its encoding.
"""

from __future__ import annotations

import orjson

from federation.router.streaming.source import StreamEvent, with_event_id


class EncodedPayloads:
    """``payload`` with its ``extensions.eventId``, as JSON, for one event after another."""

    __slots__ = ("_event", "_json", "_text")

    def __init__(self) -> None:
        self._event: StreamEvent | None = None
        self._json = b""
        self._text: str | None = None

    def json(self, event: StreamEvent) -> bytes:
        if event is not self._event:
            self._json = orjson.dumps(with_event_id(event.payload, event.event_id))
            self._text = None
            self._event = event
        return self._json

    def text(self, event: StreamEvent) -> str:
        """The same JSON as a string (a WebSocket text message is built from one)."""
        encoded = self.json(event)
        if self._text is None:
            self._text = encoded.decode()
        return self._text
