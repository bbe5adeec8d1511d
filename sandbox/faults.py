"""Run-time fault injection: the settings, their deterministic counters, and the middleware.

The middleware wraps a backend's whole ASGI app and passes `/_admin` through untouched, so
demos and tests can always reach the controls that switch a fault off again.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.ratelimit import RateLimiter

ADMIN_PREFIX = "/_admin"


@dataclass(frozen=True)
class FaultSettings:
    """What `PUT /_admin/faults` accepts; the defaults mean a healthy backend."""

    latency_ms: int = 0
    write_latency_ms: int = 0
    """Writes (POST, PUT, PATCH, DELETE) are applied at once and answered this much later:
    a caller that times out meanwhile cannot know the change was made."""
    error_rate: float = 0.0
    error_status: int = 500
    throttle_rps: float | None = None
    outage: bool = False
    maintenance: bool = False
    duplicate_rate: float = 0.0
    out_of_order: bool = False
    trickle_ms: int = 0
    huge_body_bytes: int = 0
    redirect_status: int | None = None


TRICKLE_CHUNK_BYTES = 16
"""How much of a body `trickle_ms` lets through per pause: every read sees a few bytes."""

_HUGE_BODY_CHUNK_BYTES = 64 * 1024
_REDIRECT_STATUSES = (301, 302, 303, 307, 308)


class FaultError(ValueError):
    """A fault update that cannot be applied; carries the details for a 422 answer."""

    def __init__(self, details: list[dict[str, str]]) -> None:
        super().__init__("; ".join(d["message"] for d in details))
        self.details = details


def _every_nth(count: int, rate: float) -> bool:
    """True for the calls that make up `rate` of all calls, spread evenly and repeatably."""
    return math.floor(count * rate + 1e-9) > math.floor((count - 1) * rate + 1e-9)


class FaultState:
    """The current settings of one backend plus the counters that make them deterministic."""

    def __init__(self, supports_maintenance: bool = False) -> None:
        self.supports_maintenance = supports_maintenance
        self.settings = FaultSettings()
        self._calls = 0
        self._outbound = 0
        self._throttle: RateLimiter | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self.settings)

    def update(self, changes: dict[str, Any]) -> FaultSettings:
        """Apply a partial update after checking every field; nothing changes on error."""
        details = list(self._problems(changes))
        if details:
            raise FaultError(details)
        converted = {
            name: (float(value) if name in ("error_rate", "duplicate_rate") else value)
            for name, value in changes.items()
        }
        self._apply(replace(self.settings, **converted))
        return self.settings

    def reset(self) -> FaultSettings:
        self._apply(FaultSettings())
        return self.settings

    def _apply(self, settings: FaultSettings) -> None:
        if settings.throttle_rps != self.settings.throttle_rps or self._throttle is None:
            self._throttle = RateLimiter(settings.throttle_rps) if settings.throttle_rps else None
        if settings.error_rate != self.settings.error_rate:
            self._calls = 0
        if settings.duplicate_rate != self.settings.duplicate_rate:
            self._outbound = 0
        self.settings = settings

    def _problems(self, changes: dict[str, Any]) -> list[dict[str, str]]:
        known = {field.name for field in fields(FaultSettings)}
        problems = [
            {"field": name, "message": f"unknown fault {name!r}"}
            for name in changes
            if name not in known
        ]
        checks: dict[str, tuple[Callable[[Any], bool], str]] = {
            "latency_ms": (lambda v: _is_int(v) and 0 <= v <= 60000, "integer 0..60000"),
            "write_latency_ms": (lambda v: _is_int(v) and 0 <= v <= 60000, "integer 0..60000"),
            "error_rate": (lambda v: _is_number(v) and 0 <= v <= 1, "number 0..1"),
            "error_status": (lambda v: _is_int(v) and 400 <= v <= 599, "integer 400..599"),
            "throttle_rps": (lambda v: v is None or (_is_number(v) and v > 0), "null or > 0"),
            "outage": (lambda v: isinstance(v, bool), "boolean"),
            "maintenance": (lambda v: isinstance(v, bool), "boolean"),
            "duplicate_rate": (lambda v: _is_number(v) and 0 <= v <= 1, "number 0..1"),
            "out_of_order": (lambda v: isinstance(v, bool), "boolean"),
            "trickle_ms": (lambda v: _is_int(v) and 0 <= v <= 10000, "integer 0..10000"),
            "huge_body_bytes": (
                lambda v: _is_int(v) and 0 <= v <= 2**31,
                "integer 0..2147483648",
            ),
            "redirect_status": (
                lambda v: v is None or v in _REDIRECT_STATUSES,
                "null or one of 301, 302, 303, 307, 308",
            ),
        }
        for name, value in changes.items():
            if name in checks and not checks[name][0](value):
                problems.append({"field": name, "message": f"{name} must be {checks[name][1]}"})
        if changes.get("maintenance") is True and not self.supports_maintenance:
            problems.append(
                {"field": "maintenance", "message": "maintenance is supported by the ERP only"}
            )
        return problems

    def injected_error(self) -> bool:
        """Count one API call and say whether `error_rate` picks it to fail."""
        if self.settings.error_rate <= 0:
            return False
        self._calls += 1
        return _every_nth(self._calls, self.settings.error_rate)

    def duplicate_next(self) -> bool:
        """Count one outbound message and say whether `duplicate_rate` picks it to repeat."""
        if self.settings.duplicate_rate <= 0:
            return False
        self._outbound += 1
        return _every_nth(self._outbound, self.settings.duplicate_rate)

    def throttled(self, client_key: str) -> int | None:
        return self._throttle.retry_after(client_key) if self._throttle else None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def header_client_key(*names: str) -> Callable[[Scope], str]:
    """Identify the caller by its credential header (or query), falling back to its address."""
    wanted = [name.lower().encode() for name in names]

    def client_key(scope: Scope) -> str:
        for name, value in scope.get("headers", []):
            if name in wanted:
                return value.decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")
        for part in query.split("&"):
            if part.startswith("apikey="):
                return part
        client = scope.get("client")
        return client[0] if client else "anonymous"

    return client_key


class FaultMiddleware:
    """Applies the current faults to every API request, never to `/_admin`."""

    def __init__(
        self,
        app: ASGIApp,
        faults: FaultState,
        client_key: Callable[[Scope], str] | None = None,
    ) -> None:
        self.app = app
        self.faults = faults
        self.client_key = client_key or header_client_key()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        settings = self.faults.settings
        if settings.latency_ms:
            await asyncio.sleep(settings.latency_ms / 1000)
        if settings.outage:
            await _respond(send, 503, b"Service Unavailable", "text/plain")
        elif settings.maintenance:
            body = {"error": "maintenance", "message": "scheduled maintenance, try again later"}
            await _respond(send, 503, body, retry_after=30)
        elif (wait := self.faults.throttled(self.client_key(scope))) is not None:
            body = {"error": "rate_limited", "message": "too many requests"}
            await _respond(send, 429, body, retry_after=wait)
        elif self.faults.injected_error():
            body = {"error": "injected_fault", "message": "fault injected by the sandbox"}
            await _respond(send, settings.error_status, body)
        elif settings.redirect_status is not None:
            await _redirect(send, settings.redirect_status, f"/_moved{scope['path']}")
        elif settings.huge_body_bytes:
            await _huge_body(send, settings.huge_body_bytes)
        elif settings.trickle_ms:
            await self.app(scope, receive, _trickling(send, settings.trickle_ms / 1000))
        elif settings.write_latency_ms and scope["method"] in _WRITE_METHODS:
            await self.app(scope, receive, _answered_late(send, settings.write_latency_ms / 1000))
        else:
            await self.app(scope, receive, send)


_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _answered_late(send: Send, delay_s: float) -> Send:
    """Holds the answer back `delay_s` after the handler has done its work."""

    async def late(message: Message) -> None:
        if message["type"] == "http.response.start":
            await asyncio.sleep(delay_s)
        await send(message)

    return late


def _trickling(send: Send, pause_s: float) -> Send:
    """Passes the response through, its body cut in small pieces with a pause before each:
    a server that is never silent long enough for a per-read timeout, yet never finishes."""

    async def trickle(message: Message) -> None:
        if message["type"] != "http.response.body":
            await send(message)
            return
        body: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        for start in range(0, len(body), TRICKLE_CHUNK_BYTES):
            await asyncio.sleep(pause_s)
            last = start + TRICKLE_CHUNK_BYTES >= len(body)
            piece = body[start : start + TRICKLE_CHUNK_BYTES]
            await send({"type": "http.response.body", "body": piece, "more_body": more or not last})
        if not body:
            await send(message)

    return trickle


async def _huge_body(send: Send, size: int) -> None:
    """A 200 with a JSON body of `size` bytes, sent chunked (no Content-Length) and generated
    as it goes, so the sandbox itself stays small whatever the size."""
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    opening, closing = b'{"padding": "', b'"}'
    filler = max(size - len(opening) - len(closing), 0)
    await send({"type": "http.response.body", "body": opening, "more_body": True})
    while filler > 0:
        piece = min(filler, _HUGE_BODY_CHUNK_BYTES)
        await send({"type": "http.response.body", "body": b"x" * piece, "more_body": True})
        filler -= piece
    await send({"type": "http.response.body", "body": closing, "more_body": False})


async def _redirect(send: Send, status: int, location: str) -> None:
    headers = [(b"location", location.encode("latin-1")), (b"content-length", b"0")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


async def _respond(
    send: Send,
    status: int,
    body: dict[str, Any] | bytes,
    content_type: str = "application/json",
    retry_after: int | None = None,
) -> None:
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(payload)).encode()),
    ]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
