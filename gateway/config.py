"""Gateway configuration: one TOML file (`gateway.toml` by default) plus environment overrides.

Every value has an embedded default that runs the product against the reference backends on
one machine, so a fresh checkout starts with no file at all. Environment variables override
the file: `LG_SERVER__PORT=9000`, `LG_BACKENDS__ERP__TIMEOUT_S=1.5`. Unknown keys and bad
values fail at start-up with a message naming the key (`ConfigError`).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from federation.router.headers import HeaderRule, Insert, Propagate, Remove
from federation.router.limits import DEFAULT_LIMITS, OperationLimits
from federation.router.persisted import ManifestError, TrustedDocuments, load_manifests
from federation.router.streaming.settings import DEFAULT_STREAM_SETTINGS, StreamSettings
from gateway.authorization_config import AuthorizationConfig
from gateway.cache_config import CacheConfig
from gateway.contracts_config import CONTRACT_NAME, ContractConfig, default_contracts
from gateway.cors_config import CorsConfig
from gateway.demand_config import DemandControlConfig
from gateway.jwt_config import JwtConfig
from gateway.metrics_config import MetricsConfig
from gateway.oauth_config import (
    ApiKeysConfig,
    OAuthClientConfig,
    OAuthConfig,
    default_oauth_clients,
)
from gateway.ops_config import OpsConfig
from gateway.persisted_config import PersistedQueriesConfig
from gateway.plans import PlanConfig, RateLimitList, default_plans
from gateway.throttling_config import ThrottlingConfig
from gateway.tracing_config import TracingConfig
from policies.authn import digest_api_key
from policies.identity import signing_key
from policies.principal import DEFAULT_PLAN
from process_apis.freshness import DEFAULT_WINDOWS_S, SOURCES
from system_apis.settings import BackendSettings

DEFAULT_CONFIG_FILE = Path("gateway.toml")
CONFIG_FILE_VARIABLE = "LG_CONFIG"

PositiveSeconds = Annotated[float, Field(gt=0, le=300)]


class ConfigError(Exception):
    """Configuration that cannot run; the message names each bad key and its problem."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    graphiql: bool | None = None
    """Serve the GraphiQL page at /graphiql; unset: in development only."""


STREAM_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
SUBJECT_PREFIX = re.compile(r"^[A-Za-z0-9_-]{1,64}(\.[A-Za-z0-9_-]{1,64}){0,7}$")
CACHE_NAMESPACE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class StoresConfig(_Section):
    """Where state lives. `event_stream`, `event_subject_prefix` and `cache_namespace` name
    this deployment's share of a NATS server and a Redis that other deployments use too: give
    each deployment its own (subject prefixes must not overlap, e.g. `acme.events` and
    `acme.events.eu` do)."""

    database_url: str = "sqlite+aiosqlite:///var/gateway/gateway.sqlite3"
    event_log: str = "sql"
    event_replicas: int = Field(1, ge=1, le=5)
    """Copies a JetStream cluster keeps of each event (the stream's replicas) when it creates
    the stream: 3 on a three-node cluster, so losing a node loses no acknowledged event."""
    cache: str = "memory"
    event_stream: str = "LOGISTICS_EVENTS"
    event_subject_prefix: str = "logistics.events"
    cache_namespace: str = "logistics-gateway"

    @field_validator("event_stream")
    @classmethod
    def _stream_name(cls, value: str) -> str:
        if not STREAM_NAME.fullmatch(value):
            raise ValueError("must be 1 to 64 letters, digits, '_' or '-' (a JetStream name)")
        return value

    @field_validator("event_subject_prefix")
    @classmethod
    def _subject_prefix(cls, value: str) -> str:
        if not SUBJECT_PREFIX.fullmatch(value):
            raise ValueError(
                "must be 1 to 8 dot-separated tokens of letters, digits, '_' or '-' "
                "(no wildcards, no empty token)"
            )
        return value

    @field_validator("cache_namespace")
    @classmethod
    def _cache_namespace(cls, value: str) -> str:
        if not CACHE_NAMESPACE.fullmatch(value):
            raise ValueError("must be 1 to 64 letters, digits, '_', '.', ':' or '-'")
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must be a sqlite+aiosqlite:// or postgresql+asyncpg:// URL")
        return value

    @field_validator("event_log")
    @classmethod
    def _known_event_log(cls, value: str) -> str:
        if value != "sql" and not all(
            part.strip().startswith(("nats://", "tls://")) for part in value.split(",")
        ):
            raise ValueError("must be 'sql', or nats:// URLs separated by commas")
        return value

    @field_validator("cache")
    @classmethod
    def _known_cache(cls, value: str) -> str:
        if value != "memory" and not value.startswith(("redis://", "rediss://")):
            raise ValueError("must be 'memory' or a redis:// URL")
        return value


_BACKEND_DEFAULTS = {option.name: option.default for option in fields(BackendSettings)}
"""The backend defaults are defined once, by the settings the clients are built from."""


class BackendConfig(_Section):
    """Where a backend is and how patient to be with it (see `BackendSettings`)."""

    url: str
    credential: str = _BACKEND_DEFAULTS["credential"]
    timeout_s: PositiveSeconds = _BACKEND_DEFAULTS["timeout_s"]
    call_timeout_s: PositiveSeconds = _BACKEND_DEFAULTS["call_timeout_s"]
    max_response_bytes: int = Field(_BACKEND_DEFAULTS["max_response_bytes"], ge=1, le=2**31)
    max_retries: int = Field(_BACKEND_DEFAULTS["max_retries"], ge=0, le=10)
    backoff_base_s: PositiveSeconds = _BACKEND_DEFAULTS["backoff_base_s"]
    backoff_max_s: PositiveSeconds = _BACKEND_DEFAULTS["backoff_max_s"]
    retry_after_max_s: PositiveSeconds = _BACKEND_DEFAULTS["retry_after_max_s"]
    breaker_failure_threshold: int = Field(
        _BACKEND_DEFAULTS["breaker_failure_threshold"], ge=1, le=1000
    )
    breaker_reset_s: PositiveSeconds = _BACKEND_DEFAULTS["breaker_reset_s"]
    max_concurrency: int = Field(_BACKEND_DEFAULTS["max_concurrency"], ge=1, le=10_000)
    concurrency_wait_s: PositiveSeconds = _BACKEND_DEFAULTS["concurrency_wait_s"]
    tenant_max_concurrency: int = Field(
        _BACKEND_DEFAULTS["tenant_max_concurrency"], ge=1, le=10_000
    )
    """One tenant's calls in flight; the tenants with calls waiting take turns."""
    max_requests_per_s: int = Field(_BACKEND_DEFAULTS["max_requests_per_s"], ge=0, le=100_000)
    """Attempts started in any one second, for every tenant together (0: no bound): a little
    under the backend's own limit, divided by the processes sharing its key."""

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")


def _backend(port: int, credential: str, **settings: object) -> BackendConfig:
    return BackendConfig(url=f"http://127.0.0.1:{port}", credential=credential, **settings)


ERP_REQUESTS_PER_S = 18
"""The reference ERP allows its key 20 requests a second for every caller together."""


class BackendsConfig(_Section):
    erp: BackendConfig = _backend(8101, "erp-demo-key", max_requests_per_s=ERP_REQUESTS_PER_S)
    wms: BackendConfig = _backend(8102, "wms-demo-token")
    tms: BackendConfig = _backend(8103, "tms-demo-key")
    swiftparcel: BackendConfig = _backend(8104, "swift-demo-key")
    roadline: BackendConfig = _backend(8105, "roadline-demo-key")
    heritage: BackendConfig = _backend(8106, "")

    @model_validator(mode="before")
    @classmethod
    def _over_defaults(cls, data: object) -> object:
        """A partial section (`[backends.erp] timeout_s = 1`) keeps the other defaults."""
        if not isinstance(data, dict):
            return data
        merged = dict(data)
        for name, field in cls.model_fields.items():
            given = data.get(name)
            if isinstance(given, dict) and isinstance(field.default, BackendConfig):
                merged[name] = {**field.default.model_dump(), **given}
        return merged


class WebhooksConfig(_Section):
    """Shared secrets of the pushing backends; kept in clear because HMAC needs the key itself."""

    wms_secret: str = "wms-webhook-secret"
    swiftparcel_secret: str = "swift-webhook-secret"
    heritage_password: str = "heritage-webhook-secret"
    max_body_bytes: int = Field(1_000_000, ge=1024)
    timestamp_tolerance_s: PositiveSeconds = 300.0


DEVELOPMENT_CURSOR_KEY = "development-cursor-signing-key"
"""Published with the code, so good for one machine only; production sets its own."""


class CursorsConfig(_Section):
    """Page cursors given to callers are signed with this key (HMAC-SHA256) and checked on
    return, so a forged or edited cursor never reaches a backend."""

    signing_key: str = Field(DEVELOPMENT_CURSOR_KEY, min_length=16)


class PollingConfig(_Section):
    """Feeds that only answer when asked (RoadLine, Heritage's outbox, the TMS's bookings, the
    WMS's stock listing: a sweep that finds what no push said) are polled every `interval_s`;
    the ERP's order changes every `erp_orders_interval_s` (portals read orders from what that
    feed brought, so it is asked more often; it costs one request when nothing changed)."""

    enabled: bool = True
    interval_s: PositiveSeconds = 15.0
    erp_orders_interval_s: float = Field(5.0, ge=0.5, le=300)
    """At least half a second: the ERP allows each key 20 requests a second, for everyone."""
    max_batches_per_round: int = Field(20, ge=1, le=1000)
    lease_ttl_s: PositiveSeconds = 30.0
    """One process of a deployment polls each feed; another takes over this long after the
    holder stopped renewing (it renews before every batch)."""


FreshnessWindow = Annotated[float, Field(ge=1, le=7 * 86_400)]
"""Seconds, from one second to a week."""


POLLED = ("tms", "wms", "roadline", "heritage")
"""The sources whose feeds are polled every `[polling] interval_s` (the ERP has its own)."""


class FreshnessConfig(_Section):
    """How long each backend may stay silent before answers built from its data say
    `stale: true`. A backend is heard from when a poll round of it completes (even an empty
    one) or one of its webhooks is accepted. Polled backends are asked every few seconds, so
    their windows are short; SwiftParcel only pushes when something happens, so its window is
    long."""

    erp_window_s: FreshnessWindow = DEFAULT_WINDOWS_S["erp"]
    wms_window_s: FreshnessWindow = DEFAULT_WINDOWS_S["wms"]
    tms_window_s: FreshnessWindow = DEFAULT_WINDOWS_S["tms"]
    swiftparcel_window_s: FreshnessWindow = DEFAULT_WINDOWS_S["swiftparcel"]
    roadline_window_s: FreshnessWindow = DEFAULT_WINDOWS_S["roadline"]
    heritage_window_s: FreshnessWindow = DEFAULT_WINDOWS_S["heritage"]

    def windows_s(self) -> dict[str, float]:
        """Each source's window by its name (`erp`, `wms`, …)."""
        return {source: getattr(self, f"{source}_window_s") for source in SOURCES}


class HeaderRuleConfig(_Section):
    """One header rule of a remote subgraph, exactly one kind of:
    `{ propagate = "x-name", rename = "x-other", default = "value" }` (rename and default
    optional), `{ insert = "x-name", value = "value" }`, `{ remove = "x-name" }`."""

    propagate: str | None = None
    rename: str | None = None
    default: str | None = None
    insert: str | None = None
    value: str | None = None
    remove: str | None = None

    @model_validator(mode="after")
    def _one_rule(self) -> HeaderRuleConfig:
        self.rule()
        return self

    def rule(self) -> HeaderRule:
        kinds = [k for k in ("propagate", "insert", "remove") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("a header rule has exactly one of propagate, insert or remove")
        if self.propagate is not None:
            if self.value is not None:
                raise ValueError("propagate takes rename and default, not value")
            return Propagate(self.propagate, self.rename, self.default)
        if self.rename is not None or self.default is not None:
            raise ValueError("rename and default belong to propagate")
        if self.insert is not None:
            if self.value is None:
                raise ValueError("insert needs a value")
            return Insert(self.insert, self.value)
        if self.value is not None:
            raise ValueError("remove takes no value")
        assert self.remove is not None
        return Remove(self.remove)


class HeadersConfig(_Section):
    """Rules applied to every remote subgraph, before each subgraph's own `headers`."""

    all: tuple[HeaderRuleConfig, ...] = ()


DEVELOPMENT_IDENTITY_KEY = "development-identity-signing-key-not-for-production"
"""Published with the code, so good for one machine only; production sets its own."""


class IdentityConfig(_Section):
    """The caller's verified identity, sent to each remote subgraph as a signed, short-lived
    JWT in `header`: HS256 with a secret the subgraphs share, or EdDSA with an Ed25519 private
    key (PEM) whose public half the gateway serves at /.well-known/jwks.json."""

    header: str = "x-gateway-identity"
    algorithm: Literal["HS256", "EdDSA"] = "HS256"
    signing_key: str = DEVELOPMENT_IDENTITY_KEY
    issuer: str = Field("logistics-gateway", min_length=1)
    lifetime_s: int = Field(60, ge=10, le=900)

    @field_validator("header")
    @classmethod
    def _header_name(cls, value: str) -> str:
        return Propagate(value).name

    @model_validator(mode="after")
    def _usable_key(self) -> IdentityConfig:
        try:
            signing_key(self.algorithm, self.signing_key)
        except ValueError as error:
            raise ValueError(f"signing_key: {error}") from None
        return self


class SubgraphConfig(_Section):
    """`inproc:package.module:attribute` runs in this process; an http(s) URL is remote.

    A remote subgraph receives none of the caller's headers unless `headers` (after the
    `[headers] all` rules) says so, and its error messages stay in the log unless
    `include_errors` says otherwise."""

    url: str
    timeout_s: PositiveSeconds = 5.0
    headers: tuple[HeaderRuleConfig, ...] = ()
    include_errors: bool | None = None
    """Pass the subgraph's own error messages to clients; by default only in-process ones
    (ours, already masked) do, a remote subgraph's reach clients as a code and a sentence."""

    def passes_errors(self) -> bool:
        if self.include_errors is not None:
            return self.include_errors
        return self.url.startswith("inproc:")

    @field_validator("url")
    @classmethod
    def _known_transport(cls, value: str) -> str:
        if value.startswith("inproc:"):
            target = value.removeprefix("inproc:")
            module, _, attribute = target.partition(":")
            if not module or not attribute:
                raise ValueError("inproc subgraphs are written inproc:package.module:attribute")
        elif not value.startswith(("http://", "https://")):
            raise ValueError("must be inproc:package.module:attribute or an http(s):// URL")
        return value


class LimitsConfig(_Section):
    """What one GraphQL document may cost before it is validated, planned or executed."""

    max_document_length: int = Field(DEFAULT_LIMITS.max_document_length, ge=1)
    max_tokens: int = Field(DEFAULT_LIMITS.max_tokens, ge=1)
    max_depth: int = Field(DEFAULT_LIMITS.max_depth, ge=1)
    max_aliases: int = Field(DEFAULT_LIMITS.max_aliases, ge=0)
    max_root_fields: int = Field(DEFAULT_LIMITS.max_root_fields, ge=1)
    max_fields: int = Field(DEFAULT_LIMITS.max_fields, ge=1)
    max_field_merge_cost: int = Field(DEFAULT_LIMITS.max_field_merge_cost, ge=1)

    def operation_limits(self) -> OperationLimits:
        return OperationLimits(**self.model_dump())


_STREAMS = DEFAULT_STREAM_SETTINGS


class SubscriptionsConfig(_Section):
    """Clients' subscription connections (WebSocket, SSE, multipart): see `StreamSettings`."""

    heartbeat_s: PositiveSeconds = _STREAMS.heartbeat_s
    max_queued_events: int = Field(_STREAMS.max_queued_events, ge=1, le=100_000)
    slow_consumer_grace_s: PositiveSeconds = _STREAMS.slow_consumer_grace_s
    max_subscriptions_per_connection: int = Field(
        _STREAMS.max_subscriptions_per_connection, ge=1, le=10_000
    )
    connection_init_timeout_s: PositiveSeconds = _STREAMS.connection_init_timeout_s
    max_message_bytes: int = Field(_STREAMS.max_message_bytes, ge=1024, le=16 * 1024 * 1024)
    shutdown_grace_s: PositiveSeconds = 5.0
    """How long a stopping gateway waits for its subscriptions to close."""
    credential_check_interval_s: float = Field(30.0, ge=0.1, le=3600, allow_inf_nan=False)
    """How often an open connection's credential is judged again (one look-up per connection),
    so a revoked key, token or OAuth client ends it within this time plus `[api_keys]
    cache_s`; an expiry ends it when it passes, whatever this says (`policies.live_credentials`)."""
    websocket_compression: bool = False
    """Offer WebSocket clients permessage-deflate. Off by default: every connection compresses
    every message with zlib state of its own (some 40 KB per connection), so the cost grows
    with subscribers times events, while an event is a few hundred bytes that compression
    barely shortens; sending one shipment's event to a thousand subscribers spent about a
    quarter of its time compressing. Worth turning on only for clients on slow links that
    receive large events."""

    @field_validator("credential_check_interval_s", mode="before")
    @classmethod
    def _seconds_not_a_switch(cls, value: object) -> object:
        if isinstance(value, bool):
            raise PydanticCustomError(
                "not_seconds", "must be a number of seconds (0.1 to 3600), not true or false"
            )
        return value

    def stream_settings(self) -> StreamSettings:
        return StreamSettings(
            **self.model_dump(
                exclude={"shutdown_grace_s", "websocket_compression", "credential_check_interval_s"}
            )
        )


WAREHOUSE_SCOPE = "warehouse"
"""Warehouse writes (confirm picks and packs, adjust stock), in the client's `warehouses`."""

WarehouseId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


class ClientConfig(_Section):
    """A caller of the API: the tenant it acts for and the digest of its API key."""

    tenant: str = Field(min_length=1)
    api_key_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    scopes: frozenset[str] = frozenset({"read"})
    warehouses: frozenset[WarehouseId] = Field(frozenset(), max_length=100)
    """Warehouse ids (`WH-AMS`) the client may write in; needed with the warehouse scope."""
    plan: str = DEFAULT_PLAN
    """An entry of `[plans]`: the client's rate limits, cost budget and caps."""
    rate_limits: RateLimitList | None = None
    """This client's own rate limits instead of its plan's (`["1200/minute"]`)."""
    introspection: bool | None = None
    """May query the schema (`__schema`, `__type`); unset: in development only."""
    registered_operations_only: bool = False
    """May run only the trusted documents of `[persisted_queries] manifests`."""
    contract: str | None = None
    """An entry of `[contracts]`: the only schema the client sees; unset: the whole API."""

    @model_validator(mode="after")
    def _warehouses_with_the_scope(self) -> ClientConfig:
        if WAREHOUSE_SCOPE in self.scopes and not self.warehouses:
            raise ValueError(
                f"the {WAREHOUSE_SCOPE} scope needs warehouses = [...], the ones it may write in"
            )
        if self.warehouses and WAREHOUSE_SCOPE not in self.scopes:
            raise ValueError(f"warehouses are given without the {WAREHOUSE_SCOPE} scope")
        return self


class DeprecationsConfig(_Section):
    """Each client's use of deprecated fields and enum values is counted in memory and added
    to the shared SQL store every `flush_interval_s` (see GET /admin/deprecations)."""

    flush_interval_s: float = Field(10.0, ge=0.1, le=300)


class IdempotencyConfig(_Section):
    """How long a write's idempotency key is remembered, and how long a duplicate waits."""

    ttl_s: float = Field(86_400.0, ge=60, le=30 * 86_400)
    """A retry within this time gets the first answer; later the key is free again."""
    lease_s: PositiveSeconds = 60.0
    """A request holds its key this long at most (longer than any backend call)."""
    wait_s: float = Field(2.0, ge=0, le=30)
    """A duplicate of a running command waits this long for its answer, then is told to retry."""
    purge_interval_s: float = Field(3_600.0, ge=1, le=86_400)
    """How often each process deletes the records whose `ttl_s` has passed."""


def strict_switch(value: object) -> object:
    """Only `true` or `false` (a TOML boolean, or those words from the environment): a switch
    that makes the gateway act on the backends is never turned on by a "yes" or a 1."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError("must be true or false")


class WorkflowsConfig(_Section):
    """Durable workflows: order-to-ship on a released order, ship-to-invoice on a proof of
    delivery. Off by default: they write to the ERP, WMS and TMS (reservations, picks,
    bookings, goods issues, invoices), which a deployment opts into."""

    enabled: bool = False
    retry_initial_s: PositiveSeconds = 1.0
    """A step a backend could not serve is tried again after this, doubling each time…"""
    retry_max_s: float = Field(300.0, gt=0, le=3600)
    """…up to this (a backend's own Retry-After is followed up to it too)."""
    lease_ttl_s: PositiveSeconds = 30.0
    """One process of a deployment runs workflows; another takes over this long after it
    stopped renewing."""
    poll_s: float = Field(0.5, gt=0, le=60)
    """How often the runner looks for workflows started or retried in another process."""
    concurrency: int = Field(8, ge=1, le=64)
    """Workflows advanced at once."""
    since: AwareDatetime | None = None
    """Orders released and shipments delivered before this instant (with its UTC offset)
    start no workflow: turning workflows on over an ERP's backlog does not ship or invoice
    it all at once; start those by hand (POST /admin/workflows). Unset: every one."""

    @field_validator("enabled", mode="before")
    @classmethod
    def _true_or_false(cls, value: object) -> object:
        return strict_switch(value)

    @model_validator(mode="after")
    def _backoff_in_order(self) -> WorkflowsConfig:
        if self.retry_initial_s > self.retry_max_s:
            raise ValueError("retry_initial_s must not exceed retry_max_s")
        return self


class ReconciliationConfig(_Section):
    """Stock reconciliation: the ERP's book stock against the WMS's count every `interval_s`,
    in one process of a deployment, each difference recorded (see /admin/reconciliation)."""

    enabled: bool = False
    interval_s: float = Field(3600.0, ge=1, le=7 * 86_400)
    lease_ttl_s: PositiveSeconds = 60.0

    @field_validator("enabled", mode="before")
    @classmethod
    def _true_or_false(cls, value: object) -> object:
        return strict_switch(value)


@dataclass(frozen=True, slots=True)
class DemoClient:
    """A client of the embedded defaults, with its clear-text key and what it may do."""

    tenant: str
    api_key: str
    scopes: frozenset[str]
    may: str
    warehouses: frozenset[str] = frozenset()
    plan: str = DEFAULT_PLAN
    contract: str | None = None


DEMO_CLIENTS = {
    "portal-c1001": DemoClient(
        "C-1001",
        "demo-key-c1001",
        frozenset({"read", "write"}),
        "customer portal of C-1001: its orders, shipments, invoices; stock",
    ),
    "portal-c1002": DemoClient(
        "C-1002",
        "demo-key-c1002",
        frozenset({"read", "write"}),
        "customer portal of C-1002: its orders, shipments, invoices; stock",
    ),
    "operations": DemoClient(
        "C-1001",
        "demo-key-admin",
        frozenset({"read", "admin"}),
        "admin: what C-1001's portal may, plus /admin/dead-letters and replays, "
        "and query plans (X-Query-Plan: true)",
    ),
    "warehouse-app": DemoClient(
        "C-1001",
        "demo-key-warehouse",
        frozenset({"read", WAREHOUSE_SCOPE}),
        "warehouse app of WH-AMS: stock per bin, C-1001's orders and shipments; "
        "confirms picks and packs and adjusts stock in WH-AMS",
        frozenset({"WH-AMS"}),
    ),
    "partner-c1002": DemoClient(
        "C-1002",
        "demo-key-partner",
        frozenset({"read"}),
        "partner acting for C-1002: its orders, shipments and invoices, reading only "
        "(the partner contract)",
        plan="basic",
        contract="partner",
    ),
}
"""Clear-text keys exist only for the local demo; production configuration holds digests
(and refuses these: `clients.*.api_key_sha256` is a published secret)."""


def _default_clients() -> dict[str, ClientConfig]:
    return {
        name: ClientConfig(
            tenant=client.tenant,
            api_key_sha256=digest_api_key(client.api_key),
            scopes=client.scopes,
            warehouses=client.warehouses,
            plan=client.plan,
            contract=client.contract,
        )
        for name, client in DEMO_CLIENTS.items()
    }


def _default_subgraphs() -> dict[str, SubgraphConfig]:
    names = (
        "orders",
        "inventory",
        "shipments",
        "billing",
        "returns",
        "warehouse",
        "live",
        "workflows",
    )
    return {name: SubgraphConfig(url=f"inproc:resolvers.{name}:schema") for name in names}


PUBLISHED_SECRETS: tuple[str, ...] = (
    "webhooks.wms_secret",
    "webhooks.swiftparcel_secret",
    "webhooks.heritage_password",
    "backends.*.credential",
    "clients.*.api_key_sha256",
    "cursors.signing_key",
    "identity.signing_key",
    "oauth.signing_key",
    "oauth_clients.*.secret_hash",
    "ops.session_signing_key",
)
"""Keys holding secrets whose embedded defaults are published with the code: production refuses
to start while any of them keeps such a value. `*` stands for every entry of a section, and a
value any entry has by default is refused in all of them. Register each new secret here."""


def _entries(section: object) -> Iterator[tuple[str, object]]:
    if isinstance(section, Mapping):
        yield from section.items()
    else:
        yield from ((name, getattr(section, name)) for name in type(section).model_fields)


def _values_at(section: object, pattern: list[str], key: str = "") -> Iterator[tuple[str, object]]:
    """(dotted key, value) of every key `pattern` names under `section`."""
    if not pattern:
        yield key, section
        return
    head, *rest = pattern
    prefix = f"{key}." if key else ""
    for name, value in _entries(section):
        if head in ("*", name):
            yield from _values_at(value, rest, f"{prefix}{name}")


def secrets_at_published_defaults(config: GatewayConfig) -> list[str]:
    """The secret keys of `config` that still hold a published default (or were emptied)."""
    defaults = GatewayConfig.model_construct()  # the embedded defaults, no environment read
    offending = []
    for pattern in PUBLISHED_SECRETS:
        own_defaults = dict(_values_at(defaults, pattern.split(".")))
        published = {value for value in own_defaults.values() if value}
        for key, value in _values_at(config, pattern.split(".")):
            emptied = not value and bool(own_defaults.get(key))
            if value in published or emptied:
                offending.append(key)
    return sorted(offending)


class GatewayConfig(BaseSettings):
    """The whole configuration, validated at once."""

    model_config = SettingsConfigDict(
        env_prefix="LG_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    server: ServerConfig = ServerConfig()
    stores: StoresConfig = StoresConfig()
    backends: BackendsConfig = BackendsConfig()
    webhooks: WebhooksConfig = WebhooksConfig()
    cursors: CursorsConfig = CursorsConfig()
    identity: IdentityConfig = IdentityConfig()
    headers: HeadersConfig = HeadersConfig()
    polling: PollingConfig = PollingConfig()
    freshness: FreshnessConfig = FreshnessConfig()
    limits: LimitsConfig = LimitsConfig()
    subscriptions: SubscriptionsConfig = SubscriptionsConfig()
    idempotency: IdempotencyConfig = IdempotencyConfig()
    workflows: WorkflowsConfig = WorkflowsConfig()
    reconciliation: ReconciliationConfig = ReconciliationConfig()
    throttling: ThrottlingConfig = ThrottlingConfig()
    cache: CacheConfig = CacheConfig()
    metrics: MetricsConfig = MetricsConfig()
    tracing: TracingConfig = TracingConfig()
    demand_control: DemandControlConfig = DemandControlConfig()
    persisted_queries: PersistedQueriesConfig = PersistedQueriesConfig()
    ops: OpsConfig = OpsConfig()
    subgraphs: dict[str, SubgraphConfig] = Field(default_factory=_default_subgraphs)
    clients: dict[str, ClientConfig] = Field(default_factory=_default_clients)
    plans: dict[str, PlanConfig] = Field(default_factory=default_plans)
    jwt: JwtConfig = JwtConfig()
    oauth: OAuthConfig = OAuthConfig()
    oauth_clients: dict[str, OAuthClientConfig] = Field(default_factory=default_oauth_clients)
    api_keys: ApiKeysConfig = ApiKeysConfig()
    authorization: AuthorizationConfig = AuthorizationConfig()
    contracts: dict[str, ContractConfig] = Field(default_factory=default_contracts)
    deprecations: DeprecationsConfig = DeprecationsConfig()
    cors: CorsConfig = CorsConfig()
    supergraph: str | None = None
    environment: Literal["development", "production"] = "development"

    @model_validator(mode="after")
    def _windows_longer_than_polling(self) -> GatewayConfig:
        """A source polled less often than its freshness window would make every answer from
        it stale between two rounds: refused at start, naming both keys."""
        if not self.polling.enabled:
            return self
        windows = self.freshness.windows_s()
        for source, key, interval in (
            ("erp", "polling.erp_orders_interval_s", self.polling.erp_orders_interval_s),
            *((source, "polling.interval_s", self.polling.interval_s) for source in POLLED),
        ):
            if windows[source] <= interval:
                raise PydanticCustomError(
                    "window_too_short",
                    "freshness.{source}_window_s ({window}) must be longer than {key} "
                    "({interval}): the {source} feed is polled that often",
                    {
                        "source": source,
                        "window": f"{windows[source]:g}",
                        "key": key,
                        "interval": f"{interval:g}",
                    },
                )
        return self

    @model_validator(mode="after")
    def _metrics_port_not_the_servers(self) -> GatewayConfig:
        if self.metrics.port == self.server.port:
            raise PydanticCustomError(
                "port_taken",
                "metrics.port ({port}) is server.port too; use 'main' to serve /metrics there",
                {"port": self.server.port},
            )
        return self

    @model_validator(mode="after")
    def _clients_on_known_plans(self) -> GatewayConfig:
        for name, client in self.clients.items():
            if client.plan not in self.plans:
                raise PydanticCustomError(
                    "unknown_plan",
                    "clients.{name}.plan names '{plan}', which [plans] does not define "
                    "(defined: {known})",
                    {"name": name, "plan": client.plan, "known": ", ".join(sorted(self.plans))},
                )
        return self

    @model_validator(mode="before")
    @classmethod
    def _demo_credentials_together(cls, data: object) -> object:
        """The demo OAuth client comes with the demo API keys: a configuration with its own
        `[clients]` and no `[oauth_clients]` has no OAuth client."""
        if isinstance(data, dict) and "clients" in data and "oauth_clients" not in data:
            return {**data, "oauth_clients": {}}
        return data

    @model_validator(mode="after")
    def _token_settings_agree(self) -> GatewayConfig:
        """OAuth clients and bearer tokens name known plans; the identity provider's issuer
        is not the gateway's own (its tokens would be checked against the wrong keys)."""
        for name, client in self.oauth_clients.items():
            if client.plan not in self.plans:
                raise PydanticCustomError(
                    "unknown_plan",
                    "oauth_clients.{name}.plan names '{plan}', which [plans] does not define",
                    {"name": name, "plan": client.plan},
                )
            if name in self.clients:
                raise PydanticCustomError(
                    "client_name_taken",
                    "oauth_clients.{name}: [clients] has a client of that name already",
                    {"name": name},
                )
        if self.jwt.default_plan not in self.plans:
            raise PydanticCustomError(
                "unknown_plan",
                "jwt.default_plan names '{plan}', which [plans] does not define",
                {"plan": self.jwt.default_plan},
            )
        if self.jwt.jwks_url and self.jwt.issuer == self.oauth_issuer():
            raise PydanticCustomError(
                "issuer_taken",
                "jwt.issuer must differ from the gateway's own OAuth issuer ({issuer})",
                {"issuer": self.oauth_issuer()},
            )
        if self.api_keys.default_lifetime_days > self.api_keys.max_lifetime_days:
            raise ValueError("api_keys.default_lifetime_days exceeds api_keys.max_lifetime_days")
        return self

    @model_validator(mode="after")
    def _trusted_documents_load(self) -> GatewayConfig:
        """Manifests are read now, so a bad one stops the start naming its file and entry."""
        try:
            trusted = self.trusted_documents()
        except ManifestError as error:
            raise PydanticCustomError(
                "bad_manifest", "persisted_queries.manifests: {problem}", {"problem": str(error)}
            ) from None
        for name, client in self.clients.items():
            if client.registered_operations_only and not len(trusted):
                raise PydanticCustomError(
                    "nothing_registered",
                    "clients.{name}.registered_operations_only needs trusted documents: "
                    "list manifests in [persisted_queries] manifests",
                    {"name": name},
                )
        return self

    @model_validator(mode="after")
    def _clients_on_known_contracts(self) -> GatewayConfig:
        for name in self.contracts:
            if not CONTRACT_NAME.fullmatch(name):
                raise PydanticCustomError(
                    "contract_name",
                    "contracts.{name}: a contract name is 1 to 64 letters, digits, '_' or '-'",
                    {"name": name[:80]},
                )
        bound = [("clients", n, c.contract) for n, c in self.clients.items()]
        bound += [("oauth_clients", n, c.contract) for n, c in self.oauth_clients.items()]
        for section, name, contract in bound:
            if contract is not None and contract not in self.contracts:
                raise PydanticCustomError(
                    "unknown_contract",
                    "{section}.{name}.contract names '{contract}', which [contracts] does not "
                    "define (defined: {known})",
                    {
                        "section": section,
                        "name": name,
                        "contract": contract[:80],
                        "known": ", ".join(sorted(self.contracts)) or "none",
                    },
                )
        return self

    def client_contracts(self) -> dict[str, str]:
        """The contract each bound client is held to, by client id, whatever credential it
        presents (an API key of `[clients]`, a token of an `[oauth_clients]` client)."""
        bound = {name: c.contract for name, c in self.oauth_clients.items() if c.contract}
        bound.update({name: c.contract for name, c in self.clients.items() if c.contract})
        return bound

    @model_validator(mode="after")
    def _no_published_secrets_in_production(self) -> GatewayConfig:
        if self.environment == "production" and (offending := secrets_at_published_defaults(self)):
            raise PydanticCustomError(
                "published_secret",
                'environment = "production" refuses secrets still at their published '
                "default values: {keys}; set your own (in the file or as LG_* variables)",
                {"keys": ", ".join(offending)},
            )
        return self

    @model_validator(mode="after")
    def _public_token_urls_in_production(self) -> GatewayConfig:
        """Keys fetched over TLS, and an issuer that is the gateway's public URL."""
        if self.environment != "production":
            return self
        if (self.jwt.jwks_url or "https://").startswith("http://"):
            raise ValueError('environment = "production" needs an https:// jwt.jwks_url')
        if self.oauth_clients and not self.oauth.issuer:
            raise ValueError(
                'environment = "production" with [oauth_clients] needs oauth.issuer, the '
                "gateway's public https URL"
            )
        return self

    def oauth_issuer(self) -> str:
        """The `iss` of the gateway's own tokens and the base of its OAuth endpoints' URLs."""
        if self.oauth.issuer:
            return self.oauth.issuer
        host = self.server.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.server.port}"

    def serves_graphiql(self) -> bool:
        if self.server.graphiql is not None:
            return self.server.graphiql
        return self.environment == "development"

    def trusted_documents(self) -> TrustedDocuments:
        """The trusted documents of `[persisted_queries] manifests`, checked against the
        operation limits; raises `ManifestError` naming the file and entry of a bad one."""
        return load_manifests(self.persisted_queries.manifests, self.limits.operation_limits())

    def registered_only_clients(self) -> frozenset[str]:
        return frozenset(
            name for name, client in self.clients.items() if client.registered_operations_only
        )

    def introspecting_clients(self) -> frozenset[str]:
        """The clients allowed to query the schema."""
        development = self.environment == "development"
        return frozenset(
            name
            for name, client in self.clients.items()
            if (development if client.introspection is None else client.introspection)
        )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The file's values arrive as init arguments; the environment overrides them."""
        return (env_settings, init_settings)


def load_config(path: Path | None = None) -> GatewayConfig:
    """Read `path` (else `$LG_CONFIG`, else ./gateway.toml when present) under env overrides."""
    if path is None:
        named = os.environ.get(CONFIG_FILE_VARIABLE)
        path = Path(named) if named else None
        if path is None and DEFAULT_CONFIG_FILE.is_file():
            path = DEFAULT_CONFIG_FILE
    values: dict[str, object] = {}
    if path is not None:
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: configuration file not found") from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{path}: not valid TOML: {error}") from None
        except ValueError as error:  # a number too long to read (tomllib's own limit)
            raise ConfigError(f"{path}: not valid TOML: {error}") from None
    try:
        return GatewayConfig(**values)  # type: ignore[arg-type]
    except ValidationError as error:
        raise ConfigError(describe_errors(error, path)) from None


def describe_errors(error: ValidationError, path: Path | None) -> str:
    source = str(path) if path else "embedded defaults"
    lines = [f"invalid configuration ({source} and LG_* environment variables):"]
    for problem in error.errors():
        key = ".".join(str(part) for part in problem["loc"])
        message = problem["msg"]
        if problem["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"  {key}: {message}" if key else f"  {message}")
    return "\n".join(lines)
