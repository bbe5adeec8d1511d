"""The product's ASGI app: the request pipeline in front of the router, webhooks and operations.

Pipeline, outermost first: correlation id → unhandled errors (a masked 500 that closes the
connection) → failed-authentication throttle (per source address) → authentication (API
keys, bearer tokens: `policies.authn`) → rate limits (per client, `gateway.throttling`) → route.
`/graphql` runs the federation router over the configured subgraphs, subscriptions included:
over a WebSocket (graphql-transport-ws; the key on the upgrade or in `connection_init`) and as SSE
or multipart streams for requests accepting them, each ended once its credential expires or is
revoked (`policies.live_credentials`); `/webhooks/*` take the backends' pushes
(each authenticated by its own signature, not by API key); `/admin/*` needs the `admin` scope;
`/health` (alive), `/ready` (each dependency's state, see `gateway.readiness`), the GraphiQL
page `/graphiql` (when served) and `/.well-known/jwks.json` (the keys subgraphs verify the
forwarded identity with) are open (`policies.authn.PUBLIC_ROUTES`), as are the OAuth endpoints
(`/oauth/token`, `/oauth/revoke`, `/oauth/introspect` authenticate their clients themselves;
`/oauth/jwks.json` and `/.well-known/oauth-authorization-server` are public documents).
`/admin/keys` issues, lists and revokes API keys and OAuth clients. `/metrics` (Prometheus,
`gateway.metrics`) needs the admin scope, unless `[metrics] port` serves it apart. With
`[tracing] otlp_endpoint` set, every request is a server span (`gateway.request_spans`) and
the router, the backend clients and the webhook ingress record theirs under it
(`gateway.telemetry`). `/ops` is the operators' dashboard (`gateway.ops`): an admin signs in
there and its session cookie is accepted on the `/ops` routes only. Everything stateful is built
in the lifespan from the configuration and reaches handlers through the lifespan state
(`request.state`), never through globals.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from federation.router.graphiql import graphiql_response
from federation.router.headers import Forwarded
from federation.router.http_app import handle_graphql
from federation.router.options import RequestOptions
from federation.router.streaming import (
    GraphQLStreams,
    GraphQLWebSocket,
    Refusal,
    StreamShutdown,
    Subscribe,
    Subscriber,
    requested_framing,
)
from federation.router.streaming.operations import router_subscribe
from federation.router.streaming.websocket import FORBIDDEN, UNAUTHORIZED, serve_websocket
from federation.router.telemetry import RouterTelemetry
from gateway import heap
from gateway.admin import require_admin
from gateway.background import finish_background
from gateway.cache_metrics import CacheLookups
from gateway.config import GatewayConfig
from gateway.correlation import CorrelationId
from gateway.cors import cors_middleware
from gateway.cost_admin import cost_routes
from gateway.deprecations_admin import deprecation_routes
from gateway.figures import StoreFiguresCollector
from gateway.inbound import inbound_sources
from gateway.keys_admin import key_routes
from gateway.logs import PrincipalLogContext
from gateway.metrics import GatewayMetrics
from gateway.metrics_routes import metrics_route, serve_metrics
from gateway.ops.desk import open_desk
from gateway.ops.history import ClientTraffic, EventFlow, TrafficCounter
from gateway.ops.pages import load_static
from gateway.ops.routes import ops_routes
from gateway.readiness import readiness_of
from gateway.reconciliation_admin import reconciliation_routes
from gateway.request_metrics import RequestMetrics
from gateway.request_spans import RequestSpans
from gateway.runtime import GatewayRuntime, start_runtime
from gateway.runtime_metrics import RuntimeCollector
from gateway.security_headers import SecurityHeaders
from gateway.subscription_metrics import counting_admit, counting_subscribe
from gateway.telemetry import start_tracing
from gateway.tenancy import BackendTenant
from gateway.throttling import build_throttling
from gateway.tracing import trace_headers
from gateway.unhandled import UnhandledErrors
from gateway.webhooks import WebhookIngress
from gateway.workflow_admin import workflow_routes
from policies.authn import (
    Authenticated,
    AuthenticationMiddleware,
    Authenticator,
    Forbidden,
    Refused,
    decide_connection,
)
from policies.cache_partition import cache_partition
from policies.cost_ledger import CostLedger
from policies.demand import DemandPolicy
from policies.deprecations import DeprecationUsage
from policies.disclosure import DisclosurePolicy
from policies.live_credentials import LiveCredentials
from policies.oauth_server import (
    INTROSPECT_PATH,
    JWKS_PATH,
    METADATA_PATH,
    REVOKE_PATH,
    TOKEN_PATH,
    OAuthEndpoints,
)
from policies.persisted import RegisteredOperationsPolicy
from policies.principal import Principal
from process_apis.cache_invalidation import SharedCacheInvalidation, purge_in_process
from process_apis.consumers import AppliedObserver, ConsumerRunner, runner_for
from process_apis.expired_keys import purge_expired_keys
from process_apis.live.gate import ReadModelGate
from process_apis.polling import ERP_ORDERS_FEED, FeedLease, build_pollers
from process_apis.polling_positions import build_position_poller
from process_apis.projections import build_projections, run_projections
from process_apis.reconciliation import ReconciliationSchedule
from process_apis.services import LIVE_READ_MODELS
from process_apis.workflows.runner import WorkflowRunner
from process_apis.workflows.triggers import WorkflowTriggers
from stores.event_log import StoredEvent
from stores.tagged_cache import MemoryTaggedStore
from system_apis.context import CORRELATION_HEADER, bind_tenant
from system_apis.telemetry import BackendTelemetry

PROJECTION_BATCH = 100
"""Events a projection applies at a time: small enough that a catch-up after a restart or a
first poll never holds the event loop long (requests wait behind it)."""

BACKGROUND_GRACE_S = 5.0
"""How long a stopping gateway lets pollers, projections and workflow steps finish their
current work before cutting it short."""


def create_app(
    config: GatewayConfig,
    *,
    shutdown: StreamShutdown | None = None,
    subscribe: Subscribe | None = None,
    metrics_ports: int = 1,
    settle_heap: bool = False,
) -> Starlette:
    """The gateway app; ``shutdown`` is what the server closes subscriptions with before it
    stops, ``subscribe`` replaces the router's own (the router's by default);
    ``metrics_ports`` is how many ports from `[metrics] port` this process may take for its
    metrics (one per worker process when several share the gateway's socket);
    ``settle_heap`` (for a serving process) tunes the garbage collector once startup is over
    (`gateway.heap`)."""
    disclosure = DisclosurePolicy(
        development=config.environment == "development",
        introspecting_clients=config.introspecting_clients(),
        client_contracts=config.client_contracts(),
    )
    demand = DemandPolicy(
        enabled=config.demand_control.enabled,
        enforce=config.demand_control.mode == "enforce",
        budgets={name: plan.max_cost for name, plan in config.plans.items()},
        expose=config.demand_control.expose,
        ledger=CostLedger(config.demand_control.recent_operations),
        log_operations=config.demand_control.log_operations,
    )
    registered_only = RegisteredOperationsPolicy(config.registered_only_clients())
    streams_shutdown = shutdown or StreamShutdown()
    event_flow, client_traffic = EventFlow(), ClientTraffic()
    ops_static = load_static() if config.ops.enabled else {}
    stream_settings = config.subscriptions.stream_settings()
    metrics = (
        GatewayMetrics(max_operation_names=config.metrics.max_operation_names)
        if config.metrics.enabled
        else None
    )
    tracing = start_tracing(config.tracing)
    tracer = tracing.tracer if tracing is not None else None

    authorizer = config.authorization.authorizer()

    def request_options(connection: HTTPConnection, principal: Principal) -> RequestOptions:
        """What the principal's requests may learn (its contract's schema, when it is bound
        to one), which cache partition they use, their demand control, whether they may run
        registered operations only, who the principal is for the supergraph's access rules,
        and where the deprecated parts its operations use are counted."""
        usage: DeprecationUsage = connection.state.deprecations
        options = authorizer.options_for(disclosure.options_for(principal), principal)
        options = replace(options, deprecated_use=usage.recorder(principal))
        if config.cache.enabled:
            options = replace(options, cache=cache_partition(principal))
        options = demand.apply(options, principal)
        return registered_only.apply(options, principal)

    async def identify(
        connection: HTTPConnection, in_band: Mapping[str, object] | None
    ) -> Subscriber | Refusal:
        """The one authentication decision, finished for WebSocket clients that present
        their key in connection_init; the principal becomes the operations' context, and the
        credential that decided is watched while the connection lasts."""
        principal = getattr(connection.state, "principal", None)
        authenticated = getattr(connection.state, "authenticated", None)
        if in_band is not None:
            authenticator: Authenticator = connection.state.authenticator
            decided = await decide_connection(principal, in_band, authenticator)
            if isinstance(decided, Refused):
                return Refusal(UNAUTHORIZED, decided.message)
            if isinstance(decided, Forbidden):
                return Refusal(FORBIDDEN, decided.message)
            principal = connection.state.principal = decided.principal
            if decided.credential is not None:  # else the upgrade's credential decided
                authenticated = decided
            bind_tenant(principal.tenant_id)  # for the operations this task starts
        if not isinstance(principal, Principal):
            return Refusal(UNAUTHORIZED, "an API key is required")
        admit = throttling.admission.for_principal(principal)
        live_credentials: LiveCredentials = connection.state.live_credentials
        return Subscriber(
            context={"request": connection},
            forwarded=_forwarded(connection),
            options=request_options(connection, principal),
            sharing_key=principal.sharing_key(),
            admit=counting_admit(admit, metrics) if metrics is not None else admit,
            lapse=(
                live_credentials.lapse_of(authenticated)
                if isinstance(authenticated, Authenticated)
                else None
            ),
        )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[dict[str, object]]:
        stop_serving_metrics = _serve_metrics_apart(config, metrics, metrics_ports)  # may refuse
        try:
            runtime = await start_runtime(
                config,
                router_telemetry=RouterTelemetry(
                    tracer, metrics.subgraph_fetch if metrics is not None else None
                ),
                backend_telemetry=BackendTelemetry(
                    tracer, metrics.backend_call if metrics is not None else None
                ),
                cache_plugins=(CacheLookups(metrics),) if metrics is not None else (),
            )
        except BaseException:
            stop_serving_metrics()
            raise
        ingress = WebhookIngress(
            inbound_sources(config),
            recorder=runtime.services.recorder,
            event_log=runtime.stores.event_log,
            dead_letters=runtime.stores.dead_letters,
            max_body_bytes=config.webhooks.max_body_bytes,
            heard=runtime.services.freshness.heard_from,
            on_failure=metrics.webhook_failed if metrics is not None else None,
            tracer=tracer,
        )
        stop_background = asyncio.Event()
        runner = runner_for(
            runtime.stores,
            batch_size=PROJECTION_BATCH,
            on_applied=_each_applied(
                metrics.events_applied if metrics is not None else None, event_flow.observe
            ),
        )
        projections = build_projections(runtime.stores)
        background = [asyncio.create_task(run_projections(runner, projections, stop_background))]
        figures = StoreFiguresCollector(runtime.stores.engine, config.metrics)
        stop_metrics = _start_metrics(
            config, metrics, runtime, figures, stop_background, background
        )
        background.append(
            asyncio.create_task(
                purge_expired_keys(
                    runtime.stores.idempotency, config.idempotency.purge_interval_s, stop_background
                )
            )
        )
        deprecations = DeprecationUsage(runtime.stores.deprecated_uses)
        background.append(
            asyncio.create_task(
                deprecations.run(config.deprecations.flush_interval_s, stop_background)
            )
        )
        if config.polling.enabled:
            lease = FeedLease(
                runtime.stores.leases, runtime.stores.holder_id, config.polling.lease_ttl_s
            )
            pollers = build_pollers(
                runtime.clients,
                runtime.stores,
                runtime.services.recorder,
                owners=runtime.services.owners,
                lease=lease,
                max_batches=config.polling.max_batches_per_round,
                freshness=runtime.services.freshness,
            )
            stock = build_position_poller(
                runtime.clients,
                runtime.stores,
                lease=lease,
                max_batches=config.polling.max_batches_per_round,
                freshness=runtime.services.freshness,
            )
            pollers = (*pollers, stock)
            intervals = {ERP_ORDERS_FEED: config.polling.erp_orders_interval_s}
            background += [
                asyncio.create_task(
                    poller.run(
                        intervals.get(poller.source, config.polling.interval_s), stop_background
                    )
                )
                for poller in pollers
            ]
        if config.workflows.enabled:
            engine = runtime.services.workflows.engine
            workflow_runner = WorkflowRunner(
                engine,
                runtime.stores.leases,
                runtime.stores.holder_id,
                lease_ttl_s=config.workflows.lease_ttl_s,
                poll_s=config.workflows.poll_s,
                concurrency=config.workflows.concurrency,
            )
            background += [
                asyncio.create_task(
                    runner.run(
                        WorkflowTriggers(
                            engine,
                            since=config.workflows.since,
                            shipments=runtime.stores.shipments,
                        ),
                        stop_background,
                    )
                ),
                asyncio.create_task(workflow_runner.run(stop_background)),
            ]
        if config.reconciliation.enabled:
            schedule = ReconciliationSchedule(
                runtime.services.reconciliation,
                runtime.stores.leases,
                runtime.stores.holder_id,
                interval_s=config.reconciliation.interval_s,
                lease_ttl_s=config.reconciliation.lease_ttl_s,
            )
            background.append(asyncio.create_task(schedule.run(stop_background)))
        if config.cache.enabled:
            background.append(
                asyncio.create_task(invalidate_cache(runtime, runner, stop_background))
            )
        streamed = subscribe or router_subscribe(runtime.router)
        live = {
            "subscribe": counting_subscribe(streamed, metrics) if metrics is not None else streamed,
            "identify": identify,
            "settings": stream_settings,
            "shutdown": streams_shutdown,
        }
        ops = None
        if config.ops.enabled:
            ops = open_desk(
                runtime,
                config.ops,
                figures=figures,
                flow=event_flow,
                traffic=client_traffic,
                static=ops_static,
                shutdown=streams_shutdown,
            )
        if settle_heap:
            heap.settle_heap()
        try:
            yield {
                "runtime": runtime,
                "authenticator": runtime.authentication.authenticator,
                "live_credentials": LiveCredentials(
                    runtime.authentication.authenticator,
                    interval_s=config.subscriptions.credential_check_interval_s,
                ),
                "oauth": runtime.authentication.oauth,
                "services": runtime.services,
                "cursors": runtime.cursors,
                "ingress": ingress,
                "streams": GraphQLStreams(runtime.router, **live),  # type: ignore[arg-type]
                "websockets": GraphQLWebSocket(runtime.router, **live),  # type: ignore[arg-type]
                "projections": projections,
                "consumer_runner": runner,
                "metrics": metrics,
                "ops": ops,
                "deprecations": deprecations,
            }
        finally:
            await streams_shutdown.drain(config.subscriptions.shutdown_grace_s)
            stop_background.set()
            await finish_background(background, BACKGROUND_GRACE_S)
            stop_metrics()
            stop_serving_metrics()
            await runtime.aclose()
            await throttling.close()
            if tracing is not None:
                tracing.close()

    async def graphql(request: Request) -> Response:
        if requested_framing(request.headers.get("accept", "")) is not None:
            request.state.graphql_report = (None, "stream", True)
            streams: GraphQLStreams = request.state.streams
            return await streams.handle(request)
        runtime: GatewayRuntime = request.state.runtime
        options = request_options(request, request.state.principal)

        def report(name: str | None, outcome: str) -> None:
            request.state.graphql_report = (name, outcome, False)

        return await handle_graphql(
            runtime.router,
            request,
            options=options,
            forwarded=_forwarded(request),
            report=report if metrics is not None else None,
        )

    async def graphql_websocket(websocket: WebSocket) -> None:
        await serve_websocket(websocket.state.websockets, websocket)

    async def public_keys(request: Request) -> Response:
        runtime: GatewayRuntime = request.state.runtime
        return JSONResponse(runtime.identity.public_keys())

    def oauth(endpoint: str):  # type: ignore[no-untyped-def]
        async def handle(request: Request) -> Response:
            endpoints: OAuthEndpoints = request.state.oauth
            return await getattr(endpoints, endpoint)(request)

        return handle

    async def graphiql(_: Request) -> Response:
        return graphiql_response("/graphql")

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def ready(request: Request) -> Response:
        runtime: GatewayRuntime = request.state.runtime
        readiness = await readiness_of(runtime)
        return JSONResponse(readiness.as_dict(), status_code=readiness.status_code)

    async def webhook(request: Request) -> Response:
        ingress: WebhookIngress = request.state.ingress
        return await ingress.receive(request.path_params["source"], request)

    async def dead_letters(request: Request) -> Response:
        if (denied := require_admin(request)) is not None:
            return denied
        runtime: GatewayRuntime = request.state.runtime
        source = request.query_params.get("source")
        letters = await runtime.stores.dead_letters.list(source=source, limit=100)
        return JSONResponse({"dead_letters": [_letter_summary(letter) for letter in letters]})

    async def replay(request: Request) -> Response:
        if (denied := require_admin(request)) is not None:
            return denied
        runtime: GatewayRuntime = request.state.runtime
        ingress: WebhookIngress = request.state.ingress
        letter = await runtime.stores.dead_letters.get(request.path_params["dead_letter_id"])
        if letter is None:
            return JSONResponse({"error": "not_found", "message": "no such dead letter"}, 404)
        return await ingress.replay(letter)

    routes = [  # the busiest first: each request is matched against the routes before its own
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql_websocket),
        Route("/webhooks/{source}", webhook, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/ready", ready, methods=["GET"]),
        Route("/.well-known/jwks.json", public_keys, methods=["GET"]),
        Route("/admin/dead-letters", dead_letters, methods=["GET"]),
        Route("/admin/dead-letters/{dead_letter_id}/replay", replay, methods=["POST"]),
        Route(TOKEN_PATH, oauth("token"), methods=["POST"]),
        Route(REVOKE_PATH, oauth("revoke"), methods=["POST"]),
        Route(INTROSPECT_PATH, oauth("introspect"), methods=["POST"]),
        Route(JWKS_PATH, oauth("jwks"), methods=["GET"]),
        Route(METADATA_PATH, oauth("metadata"), methods=["GET"]),
        *key_routes(),
        *workflow_routes(),
        *reconciliation_routes(),
        *cost_routes(demand.ledger),
        *(ops_routes() if config.ops.enabled else ()),
        *deprecation_routes(),
    ]
    if config.serves_graphiql():
        routes.append(Route("/graphiql", graphiql, methods=["GET"]))
    if metrics is not None and config.metrics.separate_port() is None:
        routes.append(metrics_route(metrics))
    throttling = build_throttling(
        config, routes, on_refused=metrics.rate_limited if metrics is not None else None
    )
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(CorrelationId),
        *([Middleware(RequestSpans, tracer=tracer)] if tracer is not None else []),
        *([Middleware(RequestMetrics, metrics=metrics)] if metrics is not None else []),
        Middleware(UnhandledErrors),
        *cors_middleware(config.cors),
        *throttling.before_authentication,
        Middleware(AuthenticationMiddleware, routes=routes),
        Middleware(TrafficCounter, traffic=client_traffic),
        *throttling.after_authentication,
        Middleware(PrincipalLogContext),
        Middleware(BackendTenant),
    ]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)


async def invalidate_cache(
    runtime: GatewayRuntime, runner: ConsumerRunner, stop: asyncio.Event
) -> None:
    """Purge cached answers as their entities change: this process's own when they live in
    memory, the deployment's (once, by the process holding the lease) when on Redis."""
    if isinstance(runtime.store, MemoryTaggedStore):
        await purge_in_process(runtime.services.live.hub, runtime.store, stop)
        return
    stores = runtime.stores
    gate = ReadModelGate(stores.positions, LIVE_READ_MODELS, stores.progressed)
    await runner.run(SharedCacheInvalidation(runtime.store, gate, stop), stop)


def _start_metrics(
    config: GatewayConfig,
    metrics: GatewayMetrics | None,
    runtime: GatewayRuntime,
    figures: StoreFiguresCollector,
    stop: asyncio.Event,
    background: list[asyncio.Task[None]],
) -> Callable[[], None]:
    """Register the collectors that read the runtime and start reading the store figures;
    returns what undoes it."""
    if metrics is None:
        return lambda: None
    collectors = (
        RuntimeCollector(runtime.clients.breakers, runtime.router.plan_cache_stats),
        figures,
    )
    for collector in collectors:
        metrics.watch(collector)
    background.append(asyncio.create_task(collectors[1].keep_reading(stop)))

    def undo() -> None:
        for collector in collectors:
            metrics.unwatch(collector)

    return undo


def _each_applied(*observers: AppliedObserver | None) -> AppliedObserver:
    """One `on_applied` hook telling every observer given (metrics, the dashboard's hour)."""
    present = [observer for observer in observers if observer is not None]

    def applied(consumer: str, events: Sequence[StoredEvent]) -> None:
        for observer in present:
            observer(consumer, events)

    return applied


def _serve_metrics_apart(
    config: GatewayConfig, metrics: GatewayMetrics | None, ports: int
) -> Callable[[], None]:
    """Serve the metrics on `[metrics] port` when it is a port of their own (one of `ports`
    from it, for worker processes); returns what stops it."""
    port = config.metrics.separate_port()
    if metrics is None or port is None:
        return lambda: None
    return serve_metrics(metrics, config.metrics.host, port, ports=ports)


def _forwarded(request: HTTPConnection) -> Forwarded:
    """What every remote subgraph receives of this request (or WebSocket connection) instead
    of the caller's credentials: the verified identity, signed per subgraph, and the trace
    headers."""
    runtime: GatewayRuntime = request.state.runtime
    trace = ((CORRELATION_HEADER.lower(), request.state.correlation_id),)
    return Forwarded(
        identity=runtime.identity.headers_for(request.state.principal),
        trace=trace + trace_headers(request.headers),
    )


def _letter_summary(letter) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {
        "id": letter.dead_letter_id,
        "source": letter.source,
        "reason": letter.reason,
        "received_at": letter.received_at.isoformat(),
        "correlation_id": letter.correlation_id,
        "size": len(letter.body),
        "preview": letter.body[:200].decode("utf-8", "replace"),
        "replayed_at": letter.replayed_at.isoformat() if letter.replayed_at else None,
        "replay_outcome": letter.replay_outcome,
    }
