"""Bounds and rhythms shared by every client transport of subscriptions."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StreamSettings:
    """How long-lived client connections are kept in check.

    ``max_queued_events`` bounds what one subscription may have produced and its client not
    yet received: a client that stays that far behind is a slow consumer, told so and
    disconnected, so no client can make the process hold an unbounded backlog.
    """

    heartbeat_s: float = 5.0
    """A heartbeat (WebSocket ``ping``, SSE comment, multipart ``{}``) after this much silence."""
    max_queued_events: int = 256
    """Events waiting for one slow client before it is disconnected."""
    slow_consumer_grace_s: float = 2.0
    """How long a full queue waits for its client before the client is a slow consumer; also
    how long the notice to it, or a closing frame, may take to be written."""
    max_subscriptions_per_connection: int = 100
    """Operations running at once on one WebSocket."""
    connection_init_timeout_s: float = 3.0
    """How long a WebSocket may stay open without ``connection_init`` (closed with 4408)."""
    max_message_bytes: int = 65_536
    """Largest WebSocket message accepted (closed with 1009 beyond)."""
    max_body_bytes: int = 1_048_576
    """Largest request body of an SSE or multipart request (413 beyond)."""

    def __post_init__(self) -> None:
        for name in ("heartbeat_s", "slow_consumer_grace_s", "connection_init_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        for name in (
            "max_queued_events",
            "max_subscriptions_per_connection",
            "max_message_bytes",
            "max_body_bytes",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")


DEFAULT_STREAM_SETTINGS = StreamSettings()
