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


def serve_metrics(
    metrics: GatewayMetrics, host: str, port: int, *, ports: int = 1
) -> Callable[[], None]:
    """Serve the metrics from a thread on the first of `ports` consecutive ports from `port`
    that is free; returns what stops it. Worker processes sharing one gateway socket each
    need a metrics port of their own: given the worker count, each takes the next free one,
    and Prometheus scrapes them all. No free port stops the start with a message naming
    the setting."""
    last = min(port + ports - 1, 65535)
    for candidate in range(port, last + 1):
        try:
            server, thread = start_http_server(candidate, addr=host, registry=metrics.registry)
            break
        except OSError as error:
            problem = error.strerror
    else:
        where = f"{host}:{port}" if last == port else f"{host}:{port}-{last}"
        raise OSError(f"metrics.port: cannot listen on {where}: {problem}")

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop
