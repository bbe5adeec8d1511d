"""What every backend shares: configuration, the `Backend` base class and small helpers.

A backend module subclasses `Backend` and declares its routes and how it seeds, advances and
emits; `sandbox.app.create_app` turns one into a running ASGI app.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from sandbox.faults import FaultState
from sandbox.seed import DEFAULT_SEED, World, generate
from sandbox.store import Store
from sandbox.webhooks import Outbound, OutboundQueue, WebhookSender

Handler = Callable[[Request], Awaitable[Response]]

MAX_FILTER_VALUES = 200
"""How many values one repeated filter parameter may list."""


@dataclass(frozen=True)
class BackendConfig:
    """The command-line flags every backend understands."""

    db: Path
    host: str = "127.0.0.1"
    port: int = 0
    seed: int = DEFAULT_SEED
    webhook_url: str | None = None
    webhook_secret: str = ""
    simulate: float = 0.0
    rate_limit: float = 20.0


class ApiError(Exception):
    """Raised by handlers to answer with a JSON error; the app turns it into the response."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str | None = None,
        *,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message or error)
        self.status = status
        self.body: dict[str, Any] = {"error": error}
        if message is not None:
            self.body["message"] = message
        if details is not None:
            self.body["details"] = details
        self.headers = headers or {}


def validation_error(details: list[dict[str, Any]]) -> ApiError:
    return ApiError(422, "validation", details=details)


def not_found(what: str = "") -> ApiError:
    return ApiError(404, "not_found", f"{what} not found" if what else None)


def unauthorized() -> Response:
    """The answer every backend gives a request with missing or wrong credentials."""
    return JSONResponse({"error": "unauthorized"}, status_code=401)


def guard(authorised: Callable[[Request], bool]) -> Callable[[Handler], Handler]:
    """Wraps handlers so that requests `authorised` rejects get `unauthorized()`."""

    def wrap(handler: Handler) -> Handler:
        async def guarded(request: Request) -> Response:
            if not authorised(request):
                return unauthorized()
            return await handler(request)

        return guarded

    return wrap


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, the form the JSON APIs here use."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def parse_instant(value: Any, field: str = "occurred_at") -> datetime:
    """A client-given ISO 8601 timestamp; naive ones are taken as UTC."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as error:
        detail = {"field": field, "message": "not an ISO 8601 timestamp"}
        raise validation_error([detail]) from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def encode_token(seq: int | None) -> str | None:
    """Opaque page token, so clients do not build their own."""
    if seq is None:
        return None
    return base64.urlsafe_b64encode(f"p:{seq}".encode()).decode().rstrip("=")


def decode_token(token: str | None, field: str = "page_token") -> int:
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        if not text.startswith("p:"):
            raise ValueError(text)
        return int(text[2:])
    except ValueError as error:
        raise validation_error([{"field": field, "message": "invalid token"}]) from error


def query_limit(request: Request, default: int, maximum: int) -> int:
    raw = request.query_params.get("limit")
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise validation_error([{"field": "limit", "message": f"must be 1..{maximum}"}])
    return int(raw)


async def json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 422 that says why not."""
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError as error:
        raise validation_error([{"field": "body", "message": "not valid JSON"}]) from error
    if not isinstance(body, dict):
        raise validation_error([{"field": "body", "message": "must be a JSON object"}])
    return body


class Backend:
    """Base of the six backends: holds the store, faults and (for pushers) the webhook sender."""

    name: ClassVar[str]
    default_port: ClassVar[int]
    indexed_fields: ClassVar[tuple[str, ...]] = ()
    credential_headers: ClassVar[tuple[str, ...]] = ()
    supports_maintenance: ClassVar[bool] = False
    simulate_batch: ClassVar[int] = 3

    def __init__(self, config: BackendConfig, store: Store, faults: FaultState) -> None:
        self.config = config
        self.store = store
        self.faults = faults
        self.random = random.Random(config.seed)
        self.webhooks: WebhookSender | None = None
        self.queue: OutboundQueue[Any] | None = None
        if self.pushes():
            self.webhooks = WebhookSender(
                faults, self.sign, config.webhook_url, config.webhook_secret
            )
            self.queue = self.webhooks.queue

    @classmethod
    def pushes(cls) -> bool:
        return cls.sign is not Backend.sign

    def sign(self, message: Outbound, secret: str, timestamp: int) -> dict[str, str]:
        """Headers that authenticate a pushed message; pushing backends override this."""
        raise NotImplementedError

    def load(self, world: World) -> None:
        """Write this backend's slice of the seeded world into its empty store."""
        raise NotImplementedError

    def routes(self) -> list[BaseRoute]:
        raise NotImplementedError

    async def advance(self, reference: str, steps: int) -> list[dict[str, Any]]:
        raise ApiError(404, "not_supported", f"{self.name} has nothing to advance")

    async def emit(
        self, reference: str, status: str, occurred_at: datetime, extra: dict[str, Any]
    ) -> list[dict[str, Any]]:
        raise ApiError(404, "not_supported", f"{self.name} does not emit events")

    async def simulate_step(self) -> None:
        """Move a few things on, as the real systems would between two polls."""

    async def start(self) -> None:
        if self.webhooks:
            await self.webhooks.open()
        if self.queue:
            self.queue.start()

    async def stop(self) -> None:
        if self.queue:
            await self.queue.stop()
        if self.webhooks:
            await self.webhooks.close()

    async def drain(self) -> None:
        """Wait for pending outbound events, so admin calls answer after they went out."""
        if self.queue:
            await self.queue.drain()

    def release_held(self) -> None:
        if self.queue:
            self.queue.release_held()

    def ensure_seeded(self) -> None:
        if self.store.get_meta("seeded") is None:
            with self.store.transaction():
                self.load(generate(self.config.seed))
                self.store.set_meta("seeded", str(self.config.seed))

    def listing(
        self,
        request: Request,
        collection: str,
        filters: tuple[str, ...],
        *,
        token_param: str,
        limits: tuple[int, int],
        sort_param: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of `collection` narrowed by the `filters` the query names, and the next token.

        A filter given more than once matches any of its values (`order_ref=A&order_ref=B`), up
        to `MAX_FILTER_VALUES`. `limits` is the page size when none is asked for, and the largest
        one allowed. When `sort_param` is given, `sort_param=desc` lists the newest first.
        """
        where: dict[str, Any] = {}
        for field in filters:
            values = [value for value in request.query_params.getlist(field) if value]
            if len(values) > MAX_FILTER_VALUES:
                message = f"at most {MAX_FILTER_VALUES} values"
                raise validation_error([{"field": field, "message": message}])
            if values:
                where[field] = values[0] if len(values) == 1 else values
        newest_first = False
        if sort_param is not None:
            sort = request.query_params.get(sort_param, "asc")
            if sort not in ("asc", "desc"):
                raise validation_error([{"field": sort_param, "message": "must be asc or desc"}])
            newest_first = sort == "desc"
        documents, last = self.store.page(
            collection,
            after=decode_token(request.query_params.get(token_param), token_param),
            limit=query_limit(request, *limits),
            where=where,
            newest_first=newest_first,
        )
        return documents, encode_token(last)

    def idempotent(
        self, request: Request, make: Callable[[], tuple[int, Any]], replay_status: int = 200
    ) -> Response:
        """Run a write once per `Idempotency-Key`; a repeat gets the first answer back.

        Errors are not recorded, so a client can correct a rejected request and retry it
        under the same key.
        """
        key = request.headers.get("idempotency-key")
        scope = f"{request.method} {request.url.path}"
        if key:
            recorded = self.store.recorded_response(scope, key)
            if recorded is not None:
                status, body = recorded
                return JSONResponse(body, status_code=replay_status if status == 201 else status)
        with self.store.transaction():
            status, body = make()
            if key:
                self.store.record_response(scope, key, status, body)
        return JSONResponse(body, status_code=status)
