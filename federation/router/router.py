"""The router: prepared operations (parsed, validated, planned once) and their execution.

Everything that depends only on the document and the operation name is computed once and
kept in a bounded cache; a request then only coerces its variables, runs the plan's
fetches and projects the merged data onto the client's selection. A subscription is
prepared the same way: its root fetch opens the owning subgraph's stream and the rest of its
plan runs once per event (see ``federation.router.subscriptions`` for the stream's contract).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator, Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from inspect import isawaitable
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    execute,
    validate,
)
from graphql.execution.values import get_variable_values
from graphql.language import SelectionNode, SelectionSetNode
from opentelemetry.trace import Span

from federation.router.authorization import (
    ANONYMOUS,
    AuthorizationContext,
    Grant,
    OperationAccess,
    RemovedPath,
    access_of,
    filter_operation,
    rules_of,
    unauthorized_errors,
)
from federation.router.caching import CachePartition, CachePolicy, Caching
from federation.router.caching.entities import EntityCache
from federation.router.caching.hints import UNCACHEABLE, CacheHints, directive_name
from federation.router.caching.request import RequestCaching
from federation.router.caching.responses import CachedAnswer, ResponseCache, stale_answer
from federation.router.cost import (
    COST_OK,
    NO_COST_CONTROL,
    SLICING_ARGUMENT_MISSING,
    TOO_EXPENSIVE,
    CostControl,
    CostDirectives,
    CostReport,
    CostSettings,
    Estimate,
    OperationCost,
    cannot_estimate,
    compile_cost,
    too_expensive,
)
from federation.router.deprecations import deprecated_coordinates
from federation.router.errors import OperationError, SubgraphError
from federation.router.executor import PlanExecution
from federation.router.headers import (
    NO_CLIENT_HEADERS,
    NOTHING_FORWARDED,
    Forwarded,
    HeaderRules,
)
from federation.router.limits import (
    DEFAULT_LIMITS,
    FieldMergeCostExceeded,
    OperationLimits,
    check_shape,
    parse_within_limits,
    validation_rules,
)
from federation.router.operation import Operation, normalize, select_operation
from federation.router.options import DEFAULT_OPTIONS, RequestOptions
from federation.router.persisted import PersistedOperations
from federation.router.plan import Fetch, QueryPlan
from federation.router.plan_cache import PlanCache, PlanCacheStats, cache_key
from federation.router.planner import plan_operation
from federation.router.projection import Projector
from federation.router.subscription_upstream import SharedSubscriptions
from federation.router.subscriptions import (
    SubscriptionEvent,
    SubscriptionResult,
)
from federation.router.supergraph import Supergraph
from federation.router.telemetry import NO_TELEMETRY, RouterTelemetry
from federation.router.transports.base import SubgraphRequest, SubscriptionTransport, Transport
from federation.router.transports.http import HttpTransport
from federation.router.transports.inproc import PREFIX as INPROC_PREFIX
from federation.router.transports.inproc import InProcessTransport
from federation.router.transports.websocket import WebSocketTransport, websocket_url

_PREPARED_BYTES_PER_CHARACTER = 128
"""Size of a prepared operation per character of its document (measured: 100 to 240)."""
_PREPARED_BYTES = 16_384
"""Size of a prepared operation whatever its document: plan, projector, their caches."""
_REFUSAL_BYTES = 1_024
"""Size of a cached refusal besides its messages."""


@dataclass(frozen=True)
class PreparedOperation:
    """An operation ready to run: its plan, its projection and what requests must supply."""

    kind: str
    plan: QueryPlan
    projector: Projector
    variable_definitions: tuple[Any, ...]
    introspection: DocumentNode | None
    introspects: bool
    """Whether the operation reaches ``__schema`` or ``__type`` anywhere (fragments included)."""
    introspected: bytes | None = None
    """The introspection answer, serialised, when it cannot depend on variables: answered once
    per document, not once per request (a full introspection costs milliseconds of CPU)."""
    digest: bytes = b""
    """The cache key of (document, operation name, and for a filtered operation the grant it
    was filtered for): identical subscriptions share by it."""
    cache_policy: CachePolicy = UNCACHEABLE
    """How long its answer may be reused and by whom (``@cacheControl``; queries only)."""
    fetch_policies: dict[int, CachePolicy] = field(default_factory=dict)
    """Per entity fetch id, how long each entity it answers may be reused."""
    cost: OperationCost | None = None
    """The operation's compiled cost (demand control): estimated per request in O(variables)."""
    name: str | None = None
    """The operation's own name in the document (None for an anonymous operation)."""
    operation: Operation | None = None
    """The normalised operation, which authorization filters per grant."""
    access: OperationAccess | None = None
    """What the supergraph's access rules ask of a caller here; None when nothing."""
    removed: tuple[RemovedPath, ...] = ()
    """What authorization removed (a filtered operation): one error each per request."""
    empty: bool = False
    """Authorization removed every root field: nothing runs."""
    document_length: int = 0
    schema: GraphQLSchema | None = None
    """The API schema (or schema variant) it was validated against; variables coerce by it."""
    deprecated: tuple[str, ...] = ()
    """The deprecated schema coordinates the operation uses (``Shipment.live``), sorted."""

    @property
    def subscription_fetch(self) -> Fetch:
        """A subscription's one root fetch: the one its subgraph answers once per event."""
        return next(fetch for fetch in self.plan.fetches if fetch.entity is None)


@dataclass(frozen=True, slots=True)
class Executed:
    """An answer and how it may be cached: ``policy`` is uncacheable for an answer with
    errors, a stale one, or one made without a cache; ``age_s`` is how old a cached one is."""

    result: dict[str, Any]
    policy: CachePolicy = UNCACHEABLE
    age_s: float = 0.0
    stale: bool = False


class Router:
    """Serves one supergraph: plans operations and executes them against the subgraphs.

    ``subgraphs`` maps a subgraph name to its location (``http(s)://`` URL or
    ``inproc:module:attribute``), overriding the supergraph's ``join__graph`` URLs;
    ``transports`` supplies ready-made transports by name and wins over both.
    ``subgraph_timeouts`` overrides ``timeout`` per subgraph name; ``header_rules`` say per
    subgraph name which client headers an HTTP subgraph receives (a subgraph without rules
    receives none); ``deduplicate_fetches`` lets identical concurrent query fetches to an
    HTTP subgraph share one call.
    ``limits`` bound what one document may cost before it is validated or planned; prepared
    operations and refusals are cached by document digest, up to ``plan_cache_size`` entries
    and ``plan_cache_bytes`` of estimated size.
    ``redact_errors_of`` names the subgraphs whose own GraphQL errors reach clients as a
    neutral sentence and their code only (the text goes to the log): a subgraph run by
    someone else may put hosts or internals in its messages.
    Subscriptions reach an in-process subgraph directly and an HTTP one over
    ``graphql-transport-ws`` at the same URL with a ``ws(s)`` scheme, or at
    ``subscription_urls[name]``; each client stream buffers up to ``subscription_buffer``
    unread events before it is ended as too slow.
    ``caching`` keeps query answers and `_entities` answers for the time their
    ``@cacheControl`` hints allow, for requests whose options give a cache partition.
    ``telemetry`` receives spans and fetch timings (``federation.router.telemetry``).
    Demand control reads ``@cost`` and ``@listSize`` from the supergraph; a list field
    without ``@listSize`` is assumed ``cost_settings.list_size`` long. Each request's budget
    and reporting come with its options (``RequestOptions.cost``).
    ``persisted`` holds the trusted documents and the automatic persisted queries that the
    transports resolve a request's document from (by default: none trusted, APQ in memory).
    ``schema_variants`` are other API schemas requests may name (``RequestOptions.
    schema_variant``; contracts, see ``federation.router.contracts``): an operation is
    validated, introspected and coerced against its request's variant, and prepared once per
    variant (a plan never serves another variant's requests).
    """

    def __init__(
        self,
        supergraph: Supergraph,
        *,
        subgraphs: Mapping[str, str] | None = None,
        transports: Mapping[str, Transport] | None = None,
        timeout: float = 30.0,
        subgraph_timeouts: Mapping[str, float] | None = None,
        header_rules: Mapping[str, HeaderRules] | None = None,
        enabled_override_labels: frozenset[str] = frozenset(),
        plan_cache_size: int = 1024,
        plan_cache_bytes: int = 128 * 1024 * 1024,
        deduplicate_fetches: bool = True,
        limits: OperationLimits = DEFAULT_LIMITS,
        redact_errors_of: frozenset[str] = frozenset(),
        subscription_urls: Mapping[str, str] | None = None,
        subscription_buffer: int = 1024,
        caching: Caching | None = None,
        telemetry: RouterTelemetry = NO_TELEMETRY,
        cost_settings: CostSettings = CostSettings(),  # noqa: B008 (frozen, shared)
        persisted: PersistedOperations | None = None,
        schema_variants: Mapping[str, GraphQLSchema] | None = None,
    ) -> None:
        self.supergraph = supergraph
        self.cost_settings = cost_settings
        self.cost_directives = CostDirectives.of(supergraph)
        self.persisted = persisted if persisted is not None else PersistedOperations()
        self.caching = caching
        self.telemetry = telemetry
        self._cache_hints: CacheHints | None = None
        self._responses: ResponseCache | None = None
        self._entities: EntityCache | None = None
        if caching is not None:
            settings = caching.settings
            self._cache_hints = CacheHints.from_document(
                supergraph.schema,
                supergraph.document,
                directive=directive_name(supergraph.links),
                default_max_age=settings.default_max_age,
                type_max_ages=settings.type_max_ages,
            )
            self._responses = ResponseCache(caching.store, settings)
            if settings.entities:
                self._entities = EntityCache(caching.store, settings)
        self._key_fields: dict[tuple[str, str], tuple[tuple[str, ...], ...]] = {}
        self.schema = supergraph.api_schema
        self.schema_variants: dict[str, GraphQLSchema] = dict(schema_variants or {})
        self.enabled_override_labels = enabled_override_labels
        self.limits = limits
        self._validation_rules = validation_rules(limits)
        self._cache: PlanCache[PreparedOperation | OperationError] = PlanCache(
            plan_cache_size, plan_cache_bytes
        )
        self._subgraph_names = {g.enum_value: g.name for g in supergraph.graphs.values()}
        self._redacted = frozenset(
            g.enum_value
            for g in supergraph.graphs.values()
            if g.name in redact_errors_of or g.enum_value in redact_errors_of
        )
        overrides = dict(subgraphs or {})
        given = dict(transports or {})
        streamed = dict(subscription_urls or {})
        self.transports: dict[str, Transport] = {}
        self.subscription_transports: dict[str, SubscriptionTransport] = {}
        for graph in supergraph.graphs.values():
            ready = given.get(graph.name) or given.get(graph.enum_value)
            if ready is not None:
                self.transports[graph.enum_value] = ready
                if hasattr(ready, "subscribe"):
                    self.subscription_transports[graph.enum_value] = ready  # type: ignore[assignment]
                continue
            location = overrides.get(graph.name) or overrides.get(graph.enum_value) or graph.url
            graph_timeout = (subgraph_timeouts or {}).get(graph.name, timeout)
            rules = (header_rules or {}).get(graph.name, NO_CLIENT_HEADERS)
            if location.startswith(INPROC_PREFIX):
                in_process = InProcessTransport.from_location(graph.name, location)
                self.transports[graph.enum_value] = in_process
                self.subscription_transports[graph.enum_value] = in_process
                continue
            self.transports[graph.enum_value] = HttpTransport(
                graph.name,
                location,
                timeout=graph_timeout,
                header_rules=rules,
                deduplicate=deduplicate_fetches,
            )
            self.subscription_transports[graph.enum_value] = WebSocketTransport(
                graph.name,
                streamed.get(graph.name) or websocket_url(location),
                timeout=graph_timeout,
                header_rules=rules,
            )
        self.subscriptions = SharedSubscriptions(subscription_buffer)
        self.access_rules = rules_of(supergraph)
        self._abstract_types = frozenset(
            name
            for name, named in supergraph.schema.type_map.items()
            if isinstance(named, GraphQLInterfaceType | GraphQLUnionType)
        )

    # -- preparation ------------------------------------------------------------------------

    def prepare(
        self, document: str, operation_name: str | None = None, variant: str | None = None
    ) -> PreparedOperation:
        """Check limits, parse, validate, normalise and plan, once per (document, name,
        schema variant); an unknown variant is the embedding app's error (``KeyError``)."""
        schema = self.schema if variant is None else self.schema_variants[variant]
        key = _variant_key(cache_key(document, operation_name), variant)
        cached = self._cache.get(key)
        if cached is None:
            try:
                cached = self._prepare(document, operation_name, key, schema)
                size = _PREPARED_BYTES + _PREPARED_BYTES_PER_CHARACTER * len(document)
            except OperationError as error:
                cached = error
                size = _REFUSAL_BYTES + sum(len(e["message"]) for e in error.errors)
            self._cache.put(key, cached, size)

        if isinstance(cached, OperationError):
            raise cached.with_traceback(None)  # a cached refusal must not collect tracebacks
        return cached

    def _prepare(
        self, document: str, operation_name: str | None, digest: bytes, schema: GraphQLSchema
    ) -> PreparedOperation:
        ast = parse_within_limits(document, self.limits)
        check_shape(ast, self.limits)
        errors = validate(schema, ast, self._validation_rules)
        if errors:
            if any(isinstance(e, FieldMergeCostExceeded) for e in errors):
                raise OperationError([e.formatted for e in errors], kind="limits")
            raise OperationError([_validation_failed(e.formatted) for e in errors])
        try:
            operation = select_operation(ast, operation_name)
        except ValueError as error:
            raise OperationError([{"message": str(error)}], kind="validation") from error
        kind = operation.operation.value
        root = schema.get_root_type(operation.operation)
        assert root is not None
        normalized = normalize(ast, operation, self.supergraph.root_types.get(kind, root.name))
        plan = plan_operation(self.supergraph, normalized, self.enabled_override_labels)
        if operation.operation == OperationType.SUBSCRIPTION:
            _check_subscription_plan(plan)
        introspection = _introspection_document(ast, operation)
        cost = compile_cost(schema, self.cost_directives, self.cost_settings, ast, operation)
        cache_policy, fetch_policies = self._cache_policies(kind, root.name, normalized, plan)
        access = None if self.access_rules.empty else access_of(normalized, self.access_rules)
        return PreparedOperation(
            kind=kind,
            plan=plan,
            projector=Projector(schema, root, normalized.selections),
            variable_definitions=normalized.variable_definitions,
            introspection=introspection,
            introspects=_introspects(ast, operation),
            introspected=(
                _introspect(schema, introspection, {})
                if introspection is not None and not normalized.variable_definitions
                else None
            ),
            digest=digest,
            cache_policy=cache_policy,
            fetch_policies=fetch_policies,
            cost=cost,
            name=operation.name.value if operation.name else None,
            operation=normalized,
            access=access,
            document_length=len(document),
            schema=schema,
            deprecated=deprecated_coordinates(schema, ast, operation),
        )

    def _cache_policies(
        self, kind: str, root: str, operation: Operation, plan: QueryPlan
    ) -> tuple[CachePolicy, dict[int, CachePolicy]]:
        """How long the answer, and each entity fetch's entities, may be reused."""
        if self._cache_hints is None or kind != "query":
            return UNCACHEABLE, {}
        policy = self._cache_hints.operation_policy(root, operation.selections)
        fetch_policies = {
            fetch.id: self._cache_hints.fetch_policy(fetch.operation)
            for fetch in plan.fetches
            if fetch.entity is not None
        }
        return policy, fetch_policies

    async def authorize(
        self, prepared: PreparedOperation, authorization: AuthorizationContext
    ) -> PreparedOperation:
        """The operation as ``authorization`` may run it: itself when no rule applies or the
        caller holds everything the rules ask, else filtered (once per grant, cached)."""
        access = prepared.access
        if access is None or prepared.operation is None:
            return prepared
        policies = await authorization.granted_policies(access.policies)
        grant = access.grant(authorization.authenticated, authorization.scopes, policies)
        if access.grants_everything(grant):
            return prepared
        key = prepared.digest + orjson.dumps(
            [grant.authenticated, sorted(grant.scopes), sorted(grant.policies)]
        )
        cached = self._cache.get(key)
        if cached is None:
            try:
                cached = self._filtered(prepared, grant, key)
                size = _PREPARED_BYTES + _PREPARED_BYTES_PER_CHARACTER * prepared.document_length
            except OperationError as error:
                cached = error
                size = _REFUSAL_BYTES + sum(len(e["message"]) for e in error.errors)
            self._cache.put(key, cached, size)
        if isinstance(cached, OperationError):
            raise cached.with_traceback(None)
        return cached

    def _filtered(self, prepared: PreparedOperation, grant: Grant, key: bytes) -> PreparedOperation:
        operation = prepared.operation
        assert operation is not None
        filtered = filter_operation(operation, self.access_rules, grant)
        schema = prepared.schema or self.schema
        root = schema.get_root_type(OperationType(prepared.kind))
        assert root is not None
        if filtered.empty:
            plan = QueryPlan(kind=prepared.kind, fetches=())
        else:
            plan = plan_operation(self.supergraph, filtered.planned, self.enabled_override_labels)
            if prepared.kind == "subscription":
                _check_subscription_plan(plan)
        cache_policy, fetch_policies = self._cache_policies(
            prepared.kind, root.name, filtered.planned, plan
        )
        return replace(
            prepared,
            plan=plan,
            projector=Projector(schema, root, filtered.projected),
            digest=key,
            cache_policy=cache_policy,
            fetch_policies=fetch_policies,
            operation=filtered.planned,
            access=None,
            removed=filtered.removed,
            empty=filtered.empty,
        )

    def operation_name(
        self, document: str, operation_name: str | None = None, variant: str | None = None
    ) -> str | None:
        """The name of the operation a request ran: ``operation_name`` when given, else the
        name its prepared document (for the request's schema ``variant``) gives its one
        operation (None when anonymous, or when the document was never prepared). Nothing is
        parsed here."""
        if operation_name is not None:
            return operation_name
        found = self._cache.peek(_variant_key(cache_key(document, None), variant))
        return found.name if isinstance(found, PreparedOperation) else None

    def plan_cache_stats(self) -> PlanCacheStats:
        """How many prepared operations (and refusals) the cache holds, and its hits."""
        return self._cache.stats()

    def plan(self, document: str, operation_name: str | None = None) -> QueryPlan:
        """The plan for an operation (from the cache when it was prepared before)."""
        return self.prepare(document, operation_name).plan

    # -- execution --------------------------------------------------------------------------

    async def execute(
        self,
        document: str,
        variables: Mapping[str, Any] | None = None,
        operation_name: str | None = None,
        context: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
        forwarded: Forwarded = NOTHING_FORWARDED,
        include_plan: bool = False,
        introspection: bool = True,
        cache: CachePartition | None = None,
        cost: CostControl = NO_COST_CONTROL,
        authorization: AuthorizationContext = ANONYMOUS,
        variant: str | None = None,
        deprecated_use: Callable[[tuple[str, ...]], None] | None = None,
    ) -> dict[str, Any]:
        """Run an operation; the result is a GraphQL response dictionary.

        ``headers`` are the client's (each subgraph's header rules pick from them);
        ``forwarded`` what the caller adds to every subgraph request (identity, trace);
        ``cache`` the partition its answer may be cached and found in (None: not cached);
        ``cost`` the caller's demand control: an operation estimated over its budget is
        refused before any subgraph is called or any cached answer looked up
        (``OperationError`` of kind ``cost``).
        ``authorization`` who the caller is for the supergraph's access rules: what it may
        not see is removed before planning and answered null with an
        ``UNAUTHORIZED_FIELD_OR_TYPE`` error per removed path (an operation left with
        nothing is answered ``{"data": {}}`` with those errors, as Apollo Router does).
        ``variant`` and ``deprecated_use`` are ``RequestOptions``' ``schema_variant`` and
        ``deprecated_use``.

        Raises ``OperationError`` only for requests that must not execute at all (limits,
        parse, validation and variable errors, introspection when ``introspection`` is
        false), so the HTTP layer can choose the status code.
        """
        executed = await self.run(
            document,
            variables,
            operation_name,
            context,
            headers=headers,
            forwarded=forwarded,
            include_plan=include_plan,
            introspection=introspection,
            cache=cache,
            cost=cost,
            authorization=authorization,
            variant=variant,
            deprecated_use=deprecated_use,
        )
        return executed.result

    async def run(
        self,
        document: str,
        variables: Mapping[str, Any] | None = None,
        operation_name: str | None = None,
        context: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
        forwarded: Forwarded = NOTHING_FORWARDED,
        include_plan: bool = False,
        introspection: bool = True,
        cache: CachePartition | None = None,
        cost: CostControl = NO_COST_CONTROL,
        authorization: AuthorizationContext = ANONYMOUS,
        variant: str | None = None,
        deprecated_use: Callable[[tuple[str, ...]], None] | None = None,
    ) -> Executed:
        """``execute``, with what the answer's caching needs: its policy and age.

        With a ``cache`` partition (and the router's ``caching``), a query's answer is looked
        up before any fetch and kept after an error-free run for its policy's age; its
        `_entities` fetches are answered entity by entity from the entity cache. When a run
        fails for a subgraph or backend and an answer past its age is still kept, that one
        is served instead, marked stale. Traced (``telemetry``), the run is one span.
        """
        arguments = (document, variables, operation_name, context, headers, forwarded)
        options = (include_plan, introspection, cache, cost, authorization)
        schema_use = {"variant": variant, "deprecated_use": deprecated_use}
        tracer = self.telemetry.tracer
        if tracer is None:
            return await self._run(*arguments, *options, None, **schema_use)
        with tracer.start_as_current_span("graphql.operation") as span:
            return await self._run(*arguments, *options, span, **schema_use)

    async def _run(
        self,
        document: str,
        variables: Mapping[str, Any] | None,
        operation_name: str | None,
        context: Any,
        headers: Mapping[str, str] | None,
        forwarded: Forwarded,
        include_plan: bool,
        introspection: bool,
        cache: CachePartition | None,
        cost: CostControl,
        authorization: AuthorizationContext,
        span: Span | None,
        *,
        variant: str | None = None,
        deprecated_use: Callable[[tuple[str, ...]], None] | None = None,
    ) -> Executed:
        try:
            prepared = self._traced_prepare(document, operation_name, span, variant)
            if prepared.kind == "subscription":
                message = "Subscriptions are not supported over this transport."
                raise OperationError([{"message": message}], kind="validation")
            self._check_introspection(prepared, introspection)
            if prepared.access is not None:  # no rule applies to most operations: no await
                prepared = await self.authorize(prepared, authorization)
        except OperationError as error:
            if error.kind != "planning":
                raise
            return Executed({"errors": error.errors, "data": None})
        coerced = self._coerce(prepared, variables)
        if not cost.active:
            _report_deprecated(prepared, deprecated_use)
            return await self._run_cached(
                prepared, coerced, headers, context, forwarded, include_plan, cache
            )
        estimate = self._check_cost(prepared, coerced, cost)
        _report_deprecated(prepared, deprecated_use)
        executed = await self._run_cached(
            prepared, coerced, headers, context, forwarded, include_plan, cache
        )
        shown = self._report_cost(prepared, coerced, cost, estimate, executed.result)
        if shown is None:
            return executed
        return dataclasses.replace(executed, result=shown)  # a kept answer is never changed

    async def _run_cached(
        self,
        prepared: PreparedOperation,
        coerced: dict[str, Any],
        headers: Mapping[str, str] | None,
        context: Any,
        forwarded: Forwarded,
        include_plan: bool,
        cache: CachePartition | None,
    ) -> Executed:
        if prepared.empty:
            return Executed({"data": {}, "errors": unauthorized_errors(prepared.removed, coerced)})
        if self.caching is None or cache is None:
            result = await self._run_plan(
                prepared, coerced, headers, context, forwarded, include_plan, None
            )
            return Executed(result)
        caching = RequestCaching(
            partition=cache,
            started_at=time.time(),
            key_fields=self._key_fields_of,
            entities=self._entities,
            fetch_policies=prepared.fetch_policies,
        )
        policy = prepared.cache_policy
        responses = self._responses
        key: str | None = None
        cached: CachedAnswer | None = None
        if responses is not None and policy.cacheable and not include_plan:
            key = responses.key(prepared.digest, coerced, cache.for_scope(policy.private))
            cached = await responses.lookup(key)
            if cached is not None and cached.fresh:
                return Executed(cached.result, policy, cached.age_s)
        result = await self._run_plan(
            prepared, coerced, headers, context, forwarded, include_plan, caching
        )
        if responses is None or key is None:
            return Executed(result)
        if result.get("errors"):
            if cached is not None and responses.failed(result):
                return Executed(stale_answer(cached), UNCACHEABLE, cached.age_s, stale=True)
            return Executed(result)
        await responses.keep(key, result, policy, caching.tags, caching.started_at)
        return Executed(result, policy)

    async def _run_plan(
        self,
        prepared: PreparedOperation,
        coerced: dict[str, Any],
        headers: Mapping[str, str] | None,
        context: Any,
        forwarded: Forwarded,
        include_plan: bool,
        caching: RequestCaching | None,
    ) -> dict[str, Any]:
        execution = PlanExecution(
            prepared.plan,
            self.transports,
            self._subgraph_names,
            self._type_applies,
            self._abstract_types,
            coerced,
            headers or {},
            context,
            forwarded,
            self._redacted,
            caching,
            self.telemetry,
        )
        await execution.run()
        if prepared.introspection is not None:
            introspected = orjson.loads(
                prepared.introspected
                or _introspect(prepared.schema or self.schema, prepared.introspection, coerced)
            )
            execution.data.update(introspected["data"])
            execution.errors.extend(introspected["errors"])
        data = prepared.projector.project(execution.data, coerced, execution.errors)
        if prepared.removed:
            execution.errors.extend(unauthorized_errors(prepared.removed, coerced))
        result: dict[str, Any] = {}
        if execution.errors:
            result["errors"] = execution.errors
        result["data"] = data
        if include_plan:
            result["extensions"] = {"queryPlan": prepared.plan.to_dict()}
        return result

    def _check_cost(
        self, prepared: PreparedOperation, coerced: dict[str, Any], control: CostControl
    ) -> Estimate:
        """The operation's estimate; refused (and reported) when over the budget."""
        assert prepared.cost is not None
        estimate = prepared.cost.estimate(coerced)
        if control.max_cost is None:
            return estimate
        refusal: OperationError | None = None
        if estimate.problems:
            refusal, result = cannot_estimate(estimate.problems), SLICING_ARGUMENT_MISSING
        elif estimate.cost > control.max_cost:
            refusal, result = too_expensive(estimate.cost, control), TOO_EXPENSIVE
        if refusal is not None:
            if control.observe is not None:
                control.observe(_report(prepared, estimate, None, control, result))
            raise refusal
        return estimate

    def _report_cost(
        self,
        prepared: PreparedOperation,
        coerced: dict[str, Any],
        control: CostControl,
        estimate: Estimate,
        result: dict[str, Any],
    ) -> dict[str, Any] | None:
        """Measure the answer, tell the observer; the answer with ``extensions.cost`` when
        the caller sees costs (a new dictionary), else None."""
        assert prepared.cost is not None
        actual = prepared.cost.actual(result.get("data"), coerced)
        report = _report(prepared, estimate, actual, control, COST_OK)
        if control.observe is not None:
            control.observe(report)
        if not control.expose:
            return None
        extensions = dict(result.get("extensions") or {})
        extensions["cost"] = report.extension()
        return {**result, "extensions": extensions}

    def _key_fields_of(self, typename: str, graph: str) -> tuple[tuple[str, ...], ...]:
        """The top-level fields of each resolvable key of a type in a subgraph (memoised)."""
        found = self._key_fields.get((typename, graph))
        if found is None:
            found = tuple(
                tuple(
                    selection.name.value
                    for selection in key.selection.selections
                    if isinstance(selection, FieldNode)
                )
                for key in self.supergraph.resolvable_keys(typename, graph)
            )
            self._key_fields[(typename, graph)] = found
        return found

    def _traced_prepare(
        self,
        document: str,
        operation_name: str | None,
        span: Span | None,
        variant: str | None = None,
    ) -> PreparedOperation:
        """``prepare``, for a traced operation; the operation's span is then named after it
        (``query GetOrders``), as the GraphQL conventions say. Planning gets a span of its own
        only when it happens: a plan from the cache is an attribute of the operation's span,
        since a span costs tens of microseconds and most requests find their plan cached."""
        tracer = self.telemetry.tracer
        if span is None or tracer is None:
            return self.prepare(document, operation_name, variant)
        key = _variant_key(cache_key(document, operation_name), variant)
        cached = self._cache.peek(key) is not None
        span.set_attribute("graphql.plan.cached", cached)
        if cached:
            prepared = self.prepare(document, operation_name, variant)
        else:
            with tracer.start_as_current_span("graphql.plan"):
                prepared = self.prepare(document, operation_name, variant)
        name = prepared.name or operation_name
        span.update_name(f"{prepared.kind} {name}" if name else prepared.kind)
        span.set_attribute("graphql.operation.type", prepared.kind)
        if name:
            span.set_attribute("graphql.operation.name", name)
        return prepared

    def _check_introspection(self, prepared: PreparedOperation, allowed: bool) -> None:
        if prepared.introspects and not allowed:
            message = "Introspection (__schema, __type) is not allowed for this client."
            refusal = {"message": message, "extensions": {"code": "INTROSPECTION_DISABLED"}}
            raise OperationError([refusal], kind="validation")

    def _coerce(
        self, prepared: PreparedOperation, variables: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        if not prepared.variable_definitions:
            return {}
        values = get_variable_values(
            prepared.schema or self.schema,
            list(prepared.variable_definitions),
            dict(variables or {}),
        )
        if isinstance(values, list):
            raise OperationError([e.formatted for e in values], kind="variables")
        return getattr(values, "coerced", values)  # type: ignore[return-value]

    # -- subscriptions ----------------------------------------------------------------------

    async def subscribe(
        self,
        query: str,
        variables: Mapping[str, Any] | None,
        operation_name: str | None,
        *,
        context: Any = None,
        forwarded: Forwarded = NOTHING_FORWARDED,
        options: RequestOptions = DEFAULT_OPTIONS,
        last_event_id: str | None = None,
        sharing_key: str | None = None,
    ) -> SubscriptionResult:
        """Subscribe; a refusal (``{"errors": [...]}``) or a ``SubscriptionStream``.

        Refused, with the errors and codes a query gets: limits, parse, validation,
        variables, planning, introspection the ``options`` forbid, a selection whose cost
        per event is over the ``options.cost`` budget, and any operation that is not a
        subscription. Otherwise the stream yields one ``SubscriptionEvent`` per subgraph
        event (see ``federation.router.subscriptions``), each event's actual cost reported
        to the observer of the subscriber that resolved it.

        ``context`` reaches in-process subgraphs and ``forwarded`` every subgraph, as for
        queries. ``last_event_id`` resumes after that event: it goes upstream as the
        subscribe request's ``extensions.lastEventId`` (remote subgraphs) or the
        ``last_event_id`` key of a copy of the ``context`` mapping (in-process ones).
        Identical subscriptions (document, operation name, variables, the forwarded
        identity for every subgraph the plan uses, and ``sharing_key``, which the app sets
        to the caller's identity) share one upstream subscription and one resolution per
        event, with the first subscriber's ``context`` and trace headers; a resuming
        subscription shares nothing.
        """
        try:
            prepared = self.prepare(query, operation_name, options.schema_variant)
            if prepared.kind != "subscription":
                message = f"Only a subscription can be subscribed to, not a {prepared.kind}."
                refusal = {"message": message, "extensions": {"code": "NOT_A_SUBSCRIPTION"}}
                raise OperationError([refusal], kind="validation")
            self._check_introspection(prepared, options.introspection)
            prepared = await self.authorize(prepared, options.authorization)
            coerced = self._coerce(prepared, variables)
            control = options.cost
            estimate = self._check_cost(prepared, coerced, control) if control.active else None
        except OperationError as error:
            return {"errors": error.errors}
        _report_deprecated(prepared, options.deprecated_use)
        if prepared.empty:
            return {"errors": unauthorized_errors(prepared.removed, coerced)}
        root = prepared.subscription_fetch
        name = self._subgraph_names.get(root.subgraph, root.subgraph)
        key: Hashable | None = None
        if last_event_id is None:
            key = self._sharing_key(prepared, coerced, forwarded, sharing_key, control.expose)

        def open_events() -> AsyncIterator[dict[str, Any]]:
            transport = self.subscription_transports.get(root.subgraph)
            if transport is None:
                return _no_subscriptions(name)
            request = SubgraphRequest(
                subgraph=root.subgraph,
                query=root.operation,
                variables={n: coerced[n] for n in root.variables if n in coerced},
                context=context,
                forwarded=forwarded,
            )
            return transport.subscribe(request, last_event_id)

        event_telemetry = self.telemetry.without_spans()

        async def resolve(response: dict[str, Any]) -> SubscriptionEvent:
            execution = PlanExecution(
                prepared.plan,
                self.transports,
                self._subgraph_names,
                self._type_applies,
                self._abstract_types,
                coerced,
                {},
                context,
                forwarded,
                self._redacted,
                telemetry=event_telemetry,
            )
            await execution.run_after_answer(root, response)
            data = prepared.projector.project(execution.data, coerced, execution.errors)
            if prepared.removed:
                execution.errors.extend(unauthorized_errors(prepared.removed, coerced))
            payload: dict[str, Any] = {}
            if execution.errors:
                payload["errors"] = execution.errors
            payload["data"] = data
            if estimate is not None:
                shown = self._report_cost(prepared, coerced, control, estimate, payload)
                payload = shown if shown is not None else payload
            return SubscriptionEvent(payload, _event_id(response))

        return self.subscriptions.join(key, name, open_events, resolve)

    def _sharing_key(
        self,
        prepared: PreparedOperation,
        coerced: dict[str, Any],
        forwarded: Forwarded,
        sharing_key: str | None,
        shows_cost: bool = False,
    ) -> Hashable:
        graphs = sorted({fetch.subgraph for fetch in prepared.plan.fetches})
        identity = tuple(
            forwarded.identity_for(self._subgraph_names.get(graph, graph)) for graph in graphs
        )
        values = orjson.dumps(coerced, option=orjson.OPT_SORT_KEYS, default=repr)
        return (prepared.digest, values, identity, sharing_key, shows_cost)

    def _type_applies(self, condition: str | None, typename: str) -> bool:
        if condition is None or condition == typename:
            return True
        schema = self.supergraph.schema
        condition_type = schema.type_map.get(condition)
        object_type = schema.type_map.get(typename)
        if not isinstance(object_type, GraphQLObjectType) or not isinstance(
            condition_type, GraphQLInterfaceType | GraphQLUnionType
        ):
            return False
        return schema.is_sub_type(condition_type, object_type)

    async def aclose(self) -> None:
        """End the subscriptions, then close the transports' connection pools."""
        await self.subscriptions.aclose()
        for transport in self.transports.values():
            await transport.aclose()


def _report(
    prepared: PreparedOperation,
    estimate: Estimate,
    actual: int | None,
    control: CostControl,
    result: str,
) -> CostReport:
    return CostReport(
        operation_id=prepared.digest.hex()[:16],
        operation_name=prepared.name,
        kind=prepared.kind,
        estimated=estimate.cost,
        actual=actual,
        max=control.max_cost,
        result=result,
    )


def _variant_key(key: bytes, variant: str | None) -> bytes:
    """A prepared operation's cache key: one per schema variant of a document."""
    if variant is None:
        return key
    return key + b"\x00" + variant.encode("utf-8", "surrogatepass")


def _report_deprecated(
    prepared: PreparedOperation, deprecated_use: Callable[[tuple[str, ...]], None] | None
) -> None:
    """Tell the request's hook which deprecated parts an operation about to run uses."""
    if deprecated_use is not None and prepared.deprecated:
        deprecated_use(prepared.deprecated)


def _validation_failed(error: dict[str, Any]) -> dict[str, Any]:
    """A validation error with the code clients and Apollo's routers know it by."""
    extensions = {"code": "GRAPHQL_VALIDATION_FAILED", **(error.get("extensions") or {})}
    return {**error, "extensions": extensions}


def _check_subscription_plan(plan: QueryPlan) -> None:
    """A subscription's events come from one subgraph stream: one root fetch, no more."""
    roots = [fetch for fetch in plan.fetches if fetch.entity is None]
    if len(roots) != 1:
        message = "Cannot plan the subscription: its root field must come from one subgraph."
        raise OperationError([{"message": message}], kind="planning")


def _event_id(response: Any) -> str | None:
    """The subgraph's id of an event (``extensions.eventId``), a string when there is one."""
    extensions = response.get("extensions") if isinstance(response, dict) else None
    event_id = extensions.get("eventId") if isinstance(extensions, dict) else None
    if isinstance(event_id, int) and not isinstance(event_id, bool):
        return str(event_id)
    return event_id if isinstance(event_id, str) else None


async def _no_subscriptions(name: str) -> AsyncIterator[dict[str, Any]]:
    raise SubgraphError(name, f'Subgraph "{name}" does not serve subscriptions.')
    yield {}  # an async generator, so the failure reaches the stream like any other


def _introspection_document(
    document: DocumentNode, operation: OperationDefinitionNode
) -> DocumentNode | None:
    """The operation reduced to its introspection root fields, or None when it has none.

    Root fields selected through inline fragments or fragment spreads count too: their
    fragments are kept, reduced to those fields (spreads become inline fragments).
    """
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    reduced_fragments: dict[str, tuple[SelectionNode, ...]] = {}

    def reduce(selections: Iterable[SelectionNode]) -> tuple[SelectionNode, ...]:
        kept: list[SelectionNode] = []
        for selection in selections:
            if isinstance(selection, FieldNode):
                if selection.name.value in ("__schema", "__type"):
                    kept.append(selection)
                continue
            if isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in reduced_fragments:
                    reduced_fragments[name] = ()  # validation excludes cycles; this bounds them
                    reduced_fragments[name] = reduce(fragments[name].selection_set.selections)
                inner, condition = reduced_fragments[name], fragments[name].type_condition
            else:
                assert isinstance(selection, InlineFragmentNode)
                inner = reduce(selection.selection_set.selections)
                condition = selection.type_condition
            if inner:
                kept.append(
                    InlineFragmentNode(
                        type_condition=condition,
                        directives=selection.directives,
                        selection_set=SelectionSetNode(selections=inner),
                    )
                )
        return tuple(kept)

    kept = reduce(operation.selection_set.selections)
    if not kept:
        return None
    reduced = OperationDefinitionNode(
        operation=operation.operation,
        name=operation.name,
        variable_definitions=operation.variable_definitions,
        directives=operation.directives,
        selection_set=SelectionSetNode(selections=kept),
    )
    # The fragments stay: the introspection fields' own selections may spread them.
    return DocumentNode(definitions=(reduced, *fragments.values()))


def _introspect(schema: GraphQLSchema, document: DocumentNode, variables: dict[str, Any]) -> bytes:
    """The introspection part of an answer, as JSON of its data and formatted errors."""
    result = execute(schema, document, variable_values=variables)
    assert not isawaitable(result)  # introspection resolvers are synchronous
    errors = [error.formatted for error in result.errors or ()]
    return orjson.dumps({"data": result.data or {}, "errors": errors})


def _introspects(document: DocumentNode, operation: OperationDefinitionNode) -> bool:
    """Whether ``__schema`` or ``__type`` is selected anywhere, each fragment read once.

    Not only at the root: a field of the query type is introspectable wherever that type is
    selected. ``__typename`` is data, not introspection.
    """
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    pending, seen = [operation.selection_set], set()
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode):
                if selection.name.value in ("__schema", "__type"):
                    return True
                if selection.selection_set is not None:
                    pending.append(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
                seen.add(selection.name.value)
                if (fragment := fragments.get(selection.name.value)) is not None:
                    pending.append(fragment.selection_set)
    return False
