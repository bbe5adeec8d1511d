"""Turns a `Backend` subclass into a running ASGI app with faults, admin API and lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandbox.admin import admin_routes
from sandbox.faults import FaultMiddleware, FaultState, header_client_key
from sandbox.requests import RequestCounter, RequestLog
from sandbox.service import ApiError, Backend, BackendConfig
from sandbox.store import Store


async def _api_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    return JSONResponse(error.body, status_code=error.status, headers=error.headers)


async def _simulate(backend: Backend, period: float) -> None:
    while True:
        await asyncio.sleep(period)
        with contextlib.suppress(Exception):
            await backend.simulate_step()


def create_app(backend_class: type[Backend], config: BackendConfig) -> Starlette:
    """Assemble one backend's ASGI app; opens (and on first start seeds) its database."""
    faults = FaultState(supports_maintenance=backend_class.supports_maintenance)
    store = Store(config.db, backend_class.indexed_fields)
    backend = backend_class(config, store, faults)
    backend.ensure_seeded()
    requests = RequestLog()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await backend.start()
        simulation = (
            asyncio.create_task(_simulate(backend, config.simulate)) if config.simulate else None
        )
        try:
            yield
        finally:
            if simulation:
                simulation.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await simulation
            await backend.stop()
            store.close()

    app = Starlette(
        routes=admin_routes(backend, requests) + backend.routes(),
        middleware=[
            Middleware(RequestCounter, log=requests),
            Middleware(
                FaultMiddleware,
                faults=faults,
                client_key=header_client_key(*backend_class.credential_headers),
            ),
        ],
        exception_handlers={ApiError: _api_error},
        lifespan=lifespan,
    )
    app.state.backend = backend
    return app
