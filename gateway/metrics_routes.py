"""Where `/metrics` is served: on the gateway's port to the admin scope, or on a port of its own.

On the gateway's port the route sits behind authentication like every route that is not
public: no credential is 401, a credential without the admin scope 403. On a port of its own
(`[metrics] port`) prometheus-client's own small HTTP server answers in a thread, without
credentials, on `[metrics] host`: what reaches that address is trusted to read the figures,
which name clients and operations but carry no tenant data.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, start_http_server
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.admin import require_admin
from gateway.metrics import GatewayMetrics

METRICS_PATH = "/metrics"


def metrics_route(metrics: GatewayMetrics) -> Route:
    async def serve(request: Request) -> Response:
        if (denied := require_admin(request)) is not None:
            return denied
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return Route(METRICS_PATH, serve, methods=["GET"])


def serve_metrics(metrics: GatewayMetrics, host: str, port: int) -> Callable[[], None]:
    """Serve the metrics on `host:port` from a thread; returns what stops it. A port that
    cannot be listened on stops the start with a message naming the setting."""
    try:
        server, thread = start_http_server(port, addr=host, registry=metrics.registry)
    except OSError as error:
        raise OSError(f"metrics.port: cannot listen on {host}:{port}: {error.strerror}") from None

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop
