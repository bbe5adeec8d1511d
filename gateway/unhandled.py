"""The last word on a request that raised: a masked 500 that also ends the connection.

A failure nobody expected leaves the request's state unknown, so the answer says only that it
failed and under which correlation id (the traceback goes to the log with that id), and it
carries `Connection: close`: the client opens a fresh connection instead of reusing one the
server is about to drop. When the response had already started, the error is re-raised so the
server closes the connection mid-answer rather than leaving the client waiting.
"""

from __future__ import annotations

import logging

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)


class UnhandledErrors:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking_start(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking_start)
        except Exception:
            correlation_id = scope.get("state", {}).get("correlation_id", "")
            logger.exception(
                "unhandled error on %s %s (%s)", scope["method"], scope["path"], correlation_id
            )
            if started:
                raise
            response = JSONResponse(
                {
                    "error": "internal",
                    "message": "the request failed; quote the correlation id to support",
                    "correlation_id": correlation_id,
                },
                status_code=500,
                headers={"Connection": "close"},
            )
            await response(scope, receive, send)
