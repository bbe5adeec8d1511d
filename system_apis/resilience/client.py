"""One backend's pooled HTTP client, wrapped in the resilience policies every client shares.

The boundary: below it, plain HTTP (httpx, one connection pool per backend); above it, backend
clients that speak in operations and canonical types. A call through `BackendClient` either
returns a 2xx `httpx.Response` whose body is already read or raises one of
`system_apis.errors.BackendError`; no httpx exception, no redirect and no raw 4xx/5xx crosses
it. In order, each call:

1. asks the circuit breaker for permission (open: `CircuitOpen`, nothing sent);
2. waits its tenant's turn (`fair_share`: the tenant's concurrent calls and the backend's
   requests per second; not its turn in time: `BackendThrottled`), then takes a slot of the
   concurrency bound (none free in time: `BackendUnavailable`);
3. sends the request with the correlation id, the credentials and the attempt's deadline,
   which covers the whole answer however slowly its bytes arrive (httpx's own timeouts are
   per read, so a server that trickles its body would never trip them);
4. reads the body as a stream up to the backend's byte cap (`BackendResponseTooLarge` past
   it, the rest is never read) and reports a 3xx as `BackendRedirected`;
5. on a passing failure (connect error, timeout, 429, 5xx) retries if the call is safe to
   repeat (see `retry`), waiting the backend's Retry-After or a jittered backoff, as long as
   the call's own deadline (`call_timeout_s`, over every attempt and wait) leaves room.

The `httpx.AsyncClient` is built here from the settings unless one is passed in; the client
closes only what it built (`aclose` or `async with`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random as random_module
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from opentelemetry.trace import SpanKind

from domain.events import utc_now
from system_apis.context import CORRELATION_HEADER, current_tenant, resolve_correlation_id
from system_apis.errors import (
    BackendError,
    BackendNotFound,
    BackendRedirected,
    BackendRejected,
    BackendResponseTooLarge,
    BackendThrottled,
    BackendTimeout,
    BackendUnavailable,
    MalformedPayload,
)
from system_apis.resilience.breaker import CircuitBreaker
from system_apis.resilience.bulkhead import Bulkhead
from system_apis.resilience.fair_share import FairShare
from system_apis.resilience.retry import (
    IDEMPOTENCY_HEADER,
    RETRYABLE_STATUS,
    backoff_delay,
    is_retry_safe,
    parse_retry_after,
)
from system_apis.settings import BackendSettings
from system_apis.telemetry import (
    CORRELATION_ATTRIBUTE,
    NO_BACKEND_TELEMETRY,
    BackendTelemetry,
    inject_current_trace,
)

T = TypeVar("T")

_NOTHING_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_MAX_REASON_LENGTH = 300
_BODY_FRAMING_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})
"""Describe the bytes on the wire; the body handed on is already whole and decoded."""


class _AttemptFailed(Exception):
    """One attempt failed below HTTP; carries the typed error and whether anything was sent."""

    def __init__(self, error: BackendError, nothing_sent: bool) -> None:
        super().__init__(error.public_message)
        self.error = error
        self.nothing_sent = nothing_sent


@dataclass(frozen=True, slots=True)
class _Call:
    """What every attempt of one call sends."""

    method: str
    path: str
    operation: str
    params: Mapping[str, Any] | None
    json: Any
    headers: Mapping[str, str]
    safe: bool


class BackendClient:
    """The resilient HTTP client of one backend; owns its pool, breaker and concurrency bound."""

    def __init__(
        self,
        settings: BackendSettings,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        http: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        breaker: CircuitBreaker | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], Any] = asyncio.sleep,
        random: Callable[[], float] = random_module.random,
        telemetry: BackendTelemetry = NO_BACKEND_TELEMETRY,
    ) -> None:
        self._settings = settings
        self._telemetry = telemetry
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(
            base_url=settings.url,
            headers=dict(headers or {}),
            params=dict(params or {}),
            timeout=settings.timeout_s,
            limits=httpx.Limits(
                max_connections=settings.max_concurrency,
                max_keepalive_connections=settings.max_concurrency,
            ),
            transport=transport,
        )
        self._breaker = breaker or CircuitBreaker(
            settings.name,
            failure_threshold=settings.breaker_failure_threshold,
            reset_s=settings.breaker_reset_s,
            clock=clock,
        )
        self._bulkhead = Bulkhead(
            settings.name, limit=settings.max_concurrency, wait_s=settings.concurrency_wait_s
        )
        self._fair_share = FairShare(
            settings.name,
            tenant_limit=settings.tenant_max_concurrency,
            per_second=settings.max_requests_per_s,
            wait_s=settings.concurrency_wait_s,
            clock=clock,
        )
        self._now = now
        self._sleep = sleep
        self._random = random
        self._requests_sent = 0

    @property
    def settings(self) -> BackendSettings:
        return self._settings

    @property
    def breaker(self) -> CircuitBreaker:
        return self._breaker

    @property
    def bulkhead(self) -> Bulkhead:
        return self._bulkhead

    @property
    def fair_share(self) -> FairShare:
        return self._fair_share

    @property
    def requests_sent(self) -> int:
        """HTTP requests actually handed to the pool (attempts, not calls)."""
        return self._requests_sent

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def get_json(
        self,
        path: str,
        *,
        operation: str,
        params: Mapping[str, Any] | None = None,
        correlation_id: str | None = None,
    ) -> Any:
        response = await self.request(
            "GET", path, operation=operation, params=params, correlation_id=correlation_id
        )
        return self._decode(response, operation)

    async def send_json(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        json: Any,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
        retry_safe: bool | None = None,
    ) -> Any:
        response = await self.request(
            method,
            path,
            operation=operation,
            json=json,
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
            retry_safe=retry_safe,
        )
        return self._decode(response, operation)

    async def request(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
        timeout_s: float | None = None,
        retry_safe: bool | None = None,
    ) -> httpx.Response:
        """Send one call with the policies above; `retry_safe` overrides the method rule for
        calls the backend treats as reads although they are POSTs (rate quotes)."""
        headers = {CORRELATION_HEADER: resolve_correlation_id(correlation_id)}
        if idempotency_key:
            headers[IDEMPOTENCY_HEADER] = idempotency_key
        safe = is_retry_safe(method, headers) if retry_safe is None else retry_safe
        call = _Call(method, path, operation, params, json, headers, safe)
        if self._telemetry.active:
            return await self._observed(call, timeout_s)
        return await self._call(call, timeout_s)

    async def _observed(self, call: _Call, timeout_s: float | None) -> httpx.Response:
        """The call in a span of its own, whose `traceparent` every attempt carries; timed."""
        tracer, on_call = self._telemetry.tracer, self._telemetry.on_call
        name = self._settings.name
        outcome = "ok"
        started = time.perf_counter()
        try:
            if tracer is None:
                return await self._call(call, timeout_s)
            attributes = {
                "backend.name": name,
                "backend.operation": call.operation,
                "http.request.method": call.method,
                "url.path": call.path,
                CORRELATION_ATTRIBUTE: call.headers[CORRELATION_HEADER],
            }
            with tracer.start_as_current_span(
                f"{name} {call.operation}", kind=SpanKind.CLIENT, attributes=attributes
            ) as span:
                traced = dict(call.headers)
                inject_current_trace(traced)
                sent_before = self._requests_sent
                try:
                    response = await self._call(
                        dataclasses.replace(call, headers=traced), timeout_s
                    )
                finally:
                    span.set_attribute("backend.attempts", self._requests_sent - sent_before)
                span.set_attribute("http.response.status_code", response.status_code)
                return response
        except BackendError as error:
            outcome = type(error).__name__
            raise
        finally:
            if on_call is not None:
                on_call(name, call.operation, outcome, time.perf_counter() - started)

    async def _call(self, call: _Call, timeout_s: float | None) -> httpx.Response:
        operation = call.operation
        call_timeout = self._settings.call_timeout_s
        deadline = asyncio.get_running_loop().time() + call_timeout
        try:
            async with asyncio.timeout_at(deadline):
                attempt_timeout = timeout_s or self._settings.timeout_s
                return await self._with_retries(call, attempt_timeout, deadline)
        except TimeoutError:
            raise BackendTimeout(self._settings.name, operation, timeout_s=call_timeout) from None

    async def _with_retries(self, call: _Call, timeout: float, deadline: float) -> httpx.Response:
        """Attempts until one answers or the failure is final; runs under the call deadline."""
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            wait_hint: float | None = None
            try:
                response = await self._attempt(call, timeout)
            except _AttemptFailed as failed:
                error = failed.error
                may_retry = call.safe or failed.nothing_sent
            else:
                if response.status_code < 300:
                    return response
                error = self._error_for(response, call.operation)
                if response.status_code not in RETRYABLE_STATUS:
                    raise error
                may_retry = call.safe
                wait_hint = parse_retry_after(response.headers.get("Retry-After"), self._now())
            if not may_retry or attempt >= self._settings.max_retries:
                raise error
            if wait_hint is not None and wait_hint > self._settings.retry_after_max_s:
                raise error
            delay = (
                wait_hint
                if wait_hint is not None
                else backoff_delay(
                    attempt,
                    base_s=self._settings.backoff_base_s,
                    max_s=self._settings.backoff_max_s,
                    random=self._random,
                )
            )
            if loop.time() + delay >= deadline:
                raise error  # the wait alone would outlast the call: fail now, not later
            await self._sleep(delay)
            attempt += 1

    async def _attempt(self, call: _Call, timeout: float) -> httpx.Response:
        self._breaker.acquire(call.operation)
        verdict: bool | None = None
        try:
            async with (
                self._fair_share.slot(current_tenant(), call.operation),
                self._bulkhead.slot(call.operation),
            ):
                self._requests_sent += 1
                try:
                    async with asyncio.timeout(timeout):
                        response = await self._receive(call, timeout)
                except (TimeoutError, httpx.TimeoutException) as exc:
                    verdict = False
                    raise _AttemptFailed(
                        BackendTimeout(self._settings.name, call.operation, timeout_s=timeout),
                        nothing_sent=isinstance(exc, _NOTHING_SENT),
                    ) from exc
                except httpx.TransportError as exc:
                    verdict = False
                    raise _AttemptFailed(
                        BackendUnavailable(self._settings.name, call.operation),
                        nothing_sent=isinstance(exc, _NOTHING_SENT),
                    ) from exc
                except BackendResponseTooLarge:
                    verdict = False
                    raise
            verdict = response.status_code < 500
            return response
        finally:
            if verdict is None:
                self._breaker.release()
            elif verdict:
                self._breaker.record_success()
            else:
                self._breaker.record_failure()

    async def _receive(self, call: _Call, timeout: float) -> httpx.Response:
        """Send the request and read its whole answer, never more than the byte cap."""
        request = self._http.build_request(
            call.method,
            call.path,
            params=_without_none(call.params),
            json=call.json,
            headers=call.headers,
            timeout=timeout,
        )
        streamed = await self._http.send(request, stream=True)
        try:
            body = await self._read_capped(streamed, call.operation)
        finally:
            await streamed.aclose()
        return httpx.Response(
            streamed.status_code,
            headers=[
                (name, value)
                for name, value in streamed.headers.multi_items()
                if name.lower() not in _BODY_FRAMING_HEADERS
            ],
            content=body,
            request=request,
            extensions=streamed.extensions,
        )

    async def _read_capped(self, response: httpx.Response, operation: str) -> bytes:
        limit = self._settings.max_response_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise BackendResponseTooLarge(self._settings.name, operation, limit_bytes=limit)
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > limit:
                raise BackendResponseTooLarge(self._settings.name, operation, limit_bytes=limit)
        return bytes(body)

    def _error_for(self, response: httpx.Response, operation: str) -> BackendError:
        name = self._settings.name
        status = response.status_code
        body = _error_body(response)
        reason = str(body.get("error") or response.reason_phrase or status)[:_MAX_REASON_LENGTH]
        message = str(body.get("message") or "")[:_MAX_REASON_LENGTH]
        retry_after = parse_retry_after(response.headers.get("Retry-After"), self._now())
        if status == 429:
            return BackendThrottled(name, operation, retry_after=retry_after)
        if status >= 500:
            public = (
                f"{name} is down for maintenance ({operation})" if reason == "maintenance" else None
            )
            return BackendUnavailable(
                name, operation, public, status_code=status, retry_after=retry_after
            )
        if status < 400:
            return BackendRedirected(name, operation, status_code=status)
        error_type = BackendNotFound if status == 404 else BackendRejected
        return error_type(
            name,
            operation,
            status_code=status,
            reason=reason,
            message=message,
            details=body.get("details"),
        )

    def _decode(self, response: httpx.Response, operation: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise BackendUnavailable(
                self._settings.name,
                operation,
                f"{self._settings.name} answered {operation} in an unreadable format",
            ) from None


def _error_body(response: httpx.Response) -> Mapping[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, Mapping) else {}


def _without_none(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if params is None:
        return None
    return {key: value for key, value in params.items() if value is not None}


def map_answer(backend: str, operation: str, mapper: Callable[[Any], T], data: Any) -> T:
    """Apply a mapping to a backend's answer; an answer off contract is the backend's fault."""
    try:
        return mapper(data)
    except MalformedPayload as exc:
        raise BackendUnavailable(
            backend, operation, f"{backend} answered {operation} in an unexpected format"
        ) from exc
