"""Everything a running gateway holds, built once from the configuration and closed together.

This is the composition root: the one place that turns configuration into stores, backend
clients, process services, the supergraph and the router. Nothing here runs at import time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aiocache.base import BaseCache
from aiocache.plugins import BasePlugin
from graphql import GraphQLSchema

from federation.composition import SubgraphSource, compose, fetch_sdl, load_sdl_from_module
from federation.router.caching import Caching, TaggedStore
from federation.router.contracts import ContractError, build_contract_schema
from federation.router.cost import CostSettings
from federation.router.headers import HeaderRules
from federation.router.persisted import PersistedOperations
from federation.router.router import Router
from federation.router.supergraph import Supergraph
from federation.router.telemetry import NO_TELEMETRY, RouterTelemetry
from gateway.authentication import Authentication, start_authentication
from gateway.config import ConfigError, GatewayConfig
from policies.cursors import CursorSigner
from policies.identity import IdentityTokens
from process_apis.services import LogisticsServices, build_services
from process_apis.workflows.engine import RetryPolicy
from stores.bundle import Stores, open_stores
from stores.cache import open_cache
from stores.persisted_queries import CachedDocuments
from stores.tagged_cache import tagged_store
from system_apis.bundle import SystemClients
from system_apis.settings import BackendSettings
from system_apis.telemetry import NO_BACKEND_TELEMETRY, BackendTelemetry


@dataclass(frozen=True, slots=True)
class GatewayRuntime:
    stores: Stores
    clients: SystemClients
    services: LogisticsServices
    router: Router
    cache: BaseCache
    store: TaggedStore
    """The response and entity caches' entries, tagged by entity (over `cache`)."""
    cursors: CursorSigner
    identity: IdentityTokens
    authentication: Authentication

    async def aclose(self) -> None:
        await self.authentication.aclose()
        await self.router.aclose()
        await self.services.live.close()
        await self.cache.close()
        await self.clients.aclose()
        await self.stores.close()


def backend_settings(config: GatewayConfig) -> dict[str, BackendSettings]:
    return {
        name: BackendSettings(name=name, **backend.model_dump())
        for name, backend in config.backends
    }


def header_rules(config: GatewayConfig) -> dict[str, HeaderRules]:
    """Per subgraph: the `[headers] all` rules, then its own; none means no caller header."""
    shared = tuple(rule.rule() for rule in config.headers.all)
    return {
        name: HeaderRules(shared + tuple(rule.rule() for rule in subgraph.headers))
        for name, subgraph in config.subgraphs.items()
    }


def identity_tokens(config: GatewayConfig) -> IdentityTokens:
    identity = config.identity
    return IdentityTokens(
        identity.algorithm,
        identity.signing_key,
        header=identity.header,
        issuer=identity.issuer,
        lifetime_s=identity.lifetime_s,
    )


def response_caching(
    config: GatewayConfig, supergraph: Supergraph, store: TaggedStore
) -> Caching | None:
    """The router's caches when `[cache] enabled`; a per-type age for a type the supergraph
    does not have stops the start, naming the key."""
    if not config.cache.enabled:
        return None
    for name in config.cache.types:
        if name not in supergraph.schema.type_map:
            raise ConfigError(f"cache.types.{name}: the supergraph has no type named {name!r}")
    return Caching(store, config.cache.settings())


def persisted_operations(config: GatewayConfig, cache: BaseCache) -> PersistedOperations:
    """The trusted documents of the manifests and, when enabled, APQ in the cache."""
    settings = config.persisted_queries
    apq = (
        CachedDocuments(cache, ttl_s=settings.apq_ttl_s, max_entries=settings.apq_max_entries)
        if settings.apq
        else None
    )
    return PersistedOperations(config.trusted_documents(), apq)


async def supergraph_sdl(config: GatewayConfig) -> str:
    """The configured supergraph file, or one composed now from the configured subgraphs."""
    if config.supergraph:
        return Path(config.supergraph).read_text(encoding="utf-8")
    sources = []
    for name, subgraph in sorted(config.subgraphs.items()):
        if subgraph.url.startswith("inproc:"):
            sdl = load_sdl_from_module(subgraph.url.removeprefix("inproc:"))
        else:
            sdl = await fetch_sdl(subgraph.url, timeout=subgraph.timeout_s)
        sources.append(SubgraphSource(name, subgraph.url, sdl))
    return compose(sources).supergraph_sdl


def check_policies_defined(config: GatewayConfig, router: Router) -> None:
    """Every ``@policy`` name the supergraph uses is defined: an undefined one would deny
    everyone silently."""
    undefined = config.authorization.authorizer().undefined(router.access_rules.policy_names())
    if undefined:
        keys = ", ".join(f"authorization.policies.{name}" for name in undefined)
        raise ConfigError(
            f"the supergraph uses @policy names that no policy defines; add {keys}"
            " (see gateway.example.toml)"
        )


def contract_schemas(config: GatewayConfig, supergraph: Supergraph) -> dict[str, GraphQLSchema]:
    """Each configured contract's API schema; one that cannot serve stops the start."""
    schemas = {}
    for name, contract in config.contracts.items():
        try:
            schemas[name] = build_contract_schema(
                supergraph, contract.include_tags, contract.exclude_tags
            )
        except ContractError as error:
            raise ConfigError(f"contracts.{name}: {error}") from None
    return schemas


async def open_configured_stores(config: GatewayConfig) -> Stores:
    """The stores `[stores]` names, as every process of the deployment opens them (the
    gateway and the operator CLI alike)."""
    return await open_stores(
        config.stores.database_url,
        config.stores.event_log,
        stream=config.stores.event_stream,
        subject_prefix=config.stores.event_subject_prefix,
        idempotency_ttl_s=config.idempotency.ttl_s,
        idempotency_lease_s=config.idempotency.lease_s,
        event_replicas=config.stores.event_replicas,
    )


def configured_services(
    config: GatewayConfig, clients: SystemClients, stores: Stores, cache: BaseCache
) -> LogisticsServices:
    return build_services(
        clients,
        stores,
        cache,
        duplicate_wait_s=config.idempotency.wait_s,
        workflow_retry=RetryPolicy(
            initial_s=config.workflows.retry_initial_s, max_s=config.workflows.retry_max_s
        ),
        freshness_windows_s=config.freshness.windows_s(),
    )


async def start_runtime(
    config: GatewayConfig,
    *,
    router_telemetry: RouterTelemetry = NO_TELEMETRY,
    backend_telemetry: BackendTelemetry = NO_BACKEND_TELEMETRY,
    cache_plugins: Sequence[BasePlugin] = (),
) -> GatewayRuntime:
    """Everything the configuration describes, opened; the router records its spans and
    fetch timings to `router_telemetry`, the backend clients theirs to `backend_telemetry`,
    and the cache runs `cache_plugins` after each command (hit and miss counts)."""
    stores = await open_configured_stores(config)
    clients = SystemClients.from_settings(**backend_settings(config), telemetry=backend_telemetry)
    cache = open_cache(config.stores.cache, namespace=config.stores.cache_namespace)
    cache.plugins = [*cache.plugins, *cache_plugins]
    store = tagged_store(cache, max_memory_bytes=config.cache.max_memory_bytes)
    authentication = None
    try:
        authentication = await start_authentication(config, stores)
        sdl = await supergraph_sdl(config)
        supergraph = Supergraph.from_sdl(sdl)
        router = Router(
            supergraph,
            subgraphs={name: subgraph.url for name, subgraph in config.subgraphs.items()},
            subgraph_timeouts={name: s.timeout_s for name, s in config.subgraphs.items()},
            header_rules=header_rules(config),
            limits=config.limits.operation_limits(),
            redact_errors_of=frozenset(
                name for name, subgraph in config.subgraphs.items() if not subgraph.passes_errors()
            ),
            caching=response_caching(config, supergraph, store),
            telemetry=router_telemetry,
            cost_settings=CostSettings(list_size=config.demand_control.list_size),
            persisted=persisted_operations(config, cache),
            schema_variants=contract_schemas(config, supergraph),
        )
        check_policies_defined(config, router)
    except BaseException:
        if authentication is not None:
            await authentication.aclose()
        await cache.close()
        await clients.aclose()
        await stores.close()
        raise
    return GatewayRuntime(
        stores=stores,
        clients=clients,
        services=configured_services(config, clients, stores, cache),
        router=router,
        cache=cache,
        store=store,
        cursors=CursorSigner(config.cursors.signing_key.encode()),
        identity=identity_tokens(config),
        authentication=authentication,
    )
