"""Live connections kept to the credential they were opened with.

A WebSocket, SSE or multipart connection is authenticated once, when it opens, and may stay
open for hours; its credential may stop being valid meanwhile. `LiveCredentials.lapse_of`
gives each connection what the router's transports await (`Subscriber.lapse`): it returns,
ending the connection, once

- the credential's own expiry passes (a token's `exp` plus its issuer's leeway, an issued
  key's end of life), at that moment and with no look-up, or
- the credential, judged again every `interval_s` by the one `Authenticator` every request
  goes through, is refused: a revoked API key, token or OAuth client, or a client that no
  longer exists, on this process or any other sharing the database (which this one sees
  within `[api_keys] cache_s`). One judgement per connection per interval, nothing per event.

A judgement that fails (the database does not answer) keeps the connection and is tried again
next interval: revoking needs that database too, and cutting every live client on a blip
would have them all reconnect at once when it ends.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from functools import partial

from policies.authn import Authenticated, Authenticator, Refused
from policies.bearer_tokens import looks_like_jwt

_logger = logging.getLogger("policies.live_credentials")

JITTER = 0.25
"""Each wait is up to this share shorter than `interval_s`, so connections opened together
(every client reconnecting after a restart) do not all ask the database in the same instant."""


class LiveCredentials:
    """Watches the credentials of live connections; one per process."""

    def __init__(
        self,
        authenticator: Authenticator,
        *,
        interval_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not interval_s > 0:
            raise ValueError("interval_s must be positive")
        self.authenticator = authenticator
        self.interval_s = interval_s
        self._clock = clock

    def lapse_of(self, decided: Authenticated) -> Callable[[], Awaitable[str]] | None:
        """What a connection authenticated by `decided` waits on: it returns why, once its
        credential is no longer valid. None for a browser session (no credential)."""
        if decided.credential is None:
            return None
        return partial(self._until_lapsed, decided.credential, decided.expires_at)

    async def _until_lapsed(self, credential: str, expires_at: float | None) -> str:
        while True:
            wait_s = self.interval_s * (1 - JITTER * random.random())
            if expires_at is not None:
                left_s = expires_at - self._clock()
                if left_s <= wait_s:
                    await asyncio.sleep(max(left_s, 0.0))
                    return _expired(credential)
            await asyncio.sleep(wait_s)
            try:
                decided = await self.authenticator.authenticate(credential)
            except Exception:
                _logger.warning(
                    "could not judge a live connection's credential again; next try in %.0f s",
                    self.interval_s,
                    exc_info=True,
                )
                continue
            if isinstance(decided, Refused):
                return decided.message


def _expired(credential: str) -> str:
    """The words a request with this credential is refused with once it expired."""
    return "the token has expired" if looks_like_jwt(credential) else "the API key has expired"
