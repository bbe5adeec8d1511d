"""Ending a live connection whose credential stopped being valid.

Authentication decides once, when a connection opens; its credential may stop being valid
while it stays open (a token's expiry passes, a key is revoked). Only the embedding app
knows when (``Subscriber.lapse``); each transport then ends the connection the way its
protocol ends an unauthenticated client: graphql-transport-ws closes with 4401 and the
reason, SSE and multipart send a last ``UNAUTHENTICATED`` error and end the response.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from federation.router.streaming.source import Subscriber

_logger = logging.getLogger("federation.router.streaming")

UNCHECKABLE = "the credential could not be checked again"


async def watch_lapse(subscriber: Subscriber, lapsed: Callable[[str], None]) -> None:
    """Call ``lapsed`` with the reason once the subscriber's credential lapses (never when it
    cannot). A watch that fails ends the connection too: a client can reconnect, while a
    credential nobody checks any more would be trusted for as long as the connection lasts."""
    if subscriber.lapse is None:
        return
    try:
        reason = await subscriber.lapse()
    except Exception:
        _logger.exception("watching a live connection's credential failed")
        reason = UNCHECKABLE
    lapsed(reason)


def lapsed_errors(reason: str) -> list[dict[str, object]]:
    """The last payload of an HTTP stream whose credential lapsed."""
    message = f"The connection's credential is no longer valid: {reason}. Reconnect with one."
    return [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}]
