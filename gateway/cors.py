"""CORS for the configured browser portals, with Starlette's `CORSMiddleware`.

It sits before authentication, so a browser's preflight (an `OPTIONS` request carrying
`Access-Control-Request-Method`, which never carries credentials) is answered without one,
while the real request that follows still needs its key. A request from an origin that is
not allowed gets no CORS header at all: Starlette's middleware would still add
`Access-Control-Allow-Methods` or `-Credentials` to it, which says more than needed, so such
requests bypass it (a preflight from one is refused with 400).
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.cors_config import CorsConfig


def cors_middleware(config: CorsConfig) -> list[Middleware]:
    """The CORS step of the pipeline; none when no origin is allowed."""
    return [Middleware(BrowserOrigins, config=config)] if config.allow_origins else []


class BrowserOrigins:
    def __init__(self, app: ASGIApp, config: CorsConfig) -> None:
        self.app = app
        self.allowed = frozenset(config.allow_origins)
        self.cors = CORSMiddleware(
            app,
            allow_origins=config.allow_origins,
            allow_methods=config.allow_methods,
            allow_headers=config.allow_headers,
            allow_credentials=config.allow_credentials,
            expose_headers=config.expose_headers,
            max_age=config.max_age,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None or "*" in self.allowed or origin in self.allowed:
            await self.cors(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            refusal = PlainTextResponse("Disallowed CORS origin", status_code=400)
            refusal.headers["vary"] = "Origin"
            await refusal(scope, receive, send)
            return

        async def varying(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).add_vary_header("Origin")
            await send(message)

        await self.app(scope, receive, varying)
