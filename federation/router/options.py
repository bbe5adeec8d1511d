"""What one request may learn beyond its data: decided by the app that serves the router.

Its own module because every transport (HTTP, WebSocket, SSE, multipart) takes the same
options from the embedding app.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from federation.router.authorization.context import ANONYMOUS, AuthorizationContext
from federation.router.caching.settings import CachePartition
from federation.router.cost.control import NO_COST_CONTROL, CostControl


@dataclass(frozen=True, slots=True)
class RequestOptions:
    """What one request may learn beyond its data, decided by the app that serves the router.

    ``query_plan``: the plan goes in ``extensions`` when the request asks (``X-Query-Plan``);
    otherwise the header is ignored. ``introspection``: ``__schema`` and ``__type`` may be
    queried; otherwise such an operation is refused as invalid. ``cache``: the partition
    the request's answers may be cached and found in (None: neither). ``cost``: the caller's
    demand control (budget, whether the response shows the cost, who is told of it).
    ``registered_operations_only``: the caller may run trusted documents only (persisted
    operations from the configured manifests), never a document of its own. ``authorization``:
    who the caller is for the supergraph's ``@authenticated``, ``@requiresScopes`` and
    ``@policy`` (anonymous unless the app says otherwise).
    ``schema_variant``: the name of the schema the request is validated, introspected and
    coerced against (one of the router's ``schema_variants``, e.g. a contract); None is the
    full API schema. ``deprecated_use``: called with the deprecated schema coordinates an
    operation uses (sorted, non-empty), once per operation run or subscription started.
    """

    query_plan: bool = True
    introspection: bool = True
    cache: CachePartition | None = None
    cost: CostControl = NO_COST_CONTROL
    registered_operations_only: bool = False
    authorization: AuthorizationContext = ANONYMOUS
    schema_variant: str | None = None
    deprecated_use: Callable[[tuple[str, ...]], None] | None = None


DEFAULT_OPTIONS = RequestOptions()
