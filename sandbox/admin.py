"""The `/_admin` API every backend shares: health, faults, requests received, webhook target,
advance, emit.

It is how demos and tests drive behaviour at run time; it is never subject to faults.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from sandbox.faults import FaultError
from sandbox.requests import RequestLog
from sandbox.service import ApiError, Backend, json_object, parse_instant, utc_now, validation_error


def admin_routes(backend: Backend, requests: RequestLog) -> list[BaseRoute]:
    """Routes bound to one backend instance (no shared state between backends)."""

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "backend": backend.name})

    async def faults(request: Request) -> JSONResponse:
        if request.method == "PUT":
            body = await json_object(request)
            was_out_of_order = backend.faults.settings.out_of_order
            try:
                backend.faults.update(body)
            except FaultError as error:
                raise validation_error(error.details) from error
            if was_out_of_order and not backend.faults.settings.out_of_order:
                backend.release_held()
        elif request.method == "DELETE":
            backend.faults.reset()
            backend.release_held()
        return JSONResponse(backend.faults.as_dict())

    async def webhooks(request: Request) -> JSONResponse:
        if backend.webhooks is None:
            raise ApiError(404, "not_supported", f"{backend.name} does not push webhooks")
        if request.method == "PUT":
            body = await json_object(request)
            url, secret = body.get("url"), body.get("secret")
            if url is not None and not (isinstance(url, str) and url.startswith("http")):
                raise validation_error([{"field": "url", "message": "must be an http(s) URL"}])
            if secret is not None and not isinstance(secret, str):
                raise validation_error([{"field": "secret", "message": "must be a string"}])
            backend.webhooks.configure(url, secret)
        return JSONResponse(backend.webhooks.target())

    async def advance(request: Request) -> JSONResponse:
        body = await json_object(request)
        reference = _reference(body)
        steps = body.get("steps", 1)
        if not isinstance(steps, int) or isinstance(steps, bool) or not 1 <= steps <= 50:
            raise validation_error([{"field": "steps", "message": "must be an integer 1..50"}])
        events = await backend.advance(reference, steps)
        await backend.drain()
        return JSONResponse({"reference": reference, "events": events})

    async def emit(request: Request) -> JSONResponse:
        body = await json_object(request)
        reference = _reference(body)
        status = body.get("status")
        if not isinstance(status, str) or not status:
            raise validation_error([{"field": "status", "message": "required"}])
        occurred = body.get("occurred_at")
        occurred_at = parse_instant(occurred) if occurred else utc_now()
        extra = {k: v for k, v in body.items() if k not in ("reference", "status", "occurred_at")}
        events = await backend.emit(reference, status, occurred_at, extra)
        await backend.drain()
        return JSONResponse({"reference": reference, "events": events})

    async def deliveries(request: Request) -> JSONResponse:
        if backend.webhooks is None:
            return JSONResponse({"deliveries": []})
        if request.method == "DELETE":
            backend.webhooks.clear_deliveries()
        return JSONResponse({"deliveries": backend.webhooks.deliveries()})

    async def received(request: Request) -> JSONResponse:
        if request.method == "DELETE":
            requests.clear()
        return JSONResponse(requests.as_dict())

    return [
        Route("/_admin/health", health, methods=["GET"]),
        Route("/_admin/requests", received, methods=["GET", "DELETE"]),
        Route("/_admin/faults", faults, methods=["GET", "PUT", "DELETE"]),
        Route("/_admin/webhooks", webhooks, methods=["GET", "PUT"]),
        Route("/_admin/advance", advance, methods=["POST"]),
        Route("/_admin/emit", emit, methods=["POST"]),
        Route("/_admin/deliveries", deliveries, methods=["GET", "DELETE"]),
    ]


def _reference(body: dict[str, Any]) -> str:
    reference = body.get("reference")
    if not isinstance(reference, str) or not reference:
        raise validation_error([{"field": "reference", "message": "required"}])
    return reference
