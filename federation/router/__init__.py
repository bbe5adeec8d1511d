"""Apollo Federation v2 router: supergraph loading, query planning, execution, serving.

supergraph = Supergraph.from_sdl(text)
router = Router(supergraph, subgraphs={"orders": "inproc:resolvers.orders:schema"})
result = await router.execute(query, variables, operation_name)
stream = await router.subscribe(query, variables, operation_name)  # see .subscriptions
app = build_app(router)  # ASGI app: GraphQL over HTTP
"""

from federation.router.errors import (
    FederationError,
    OperationError,
    SubgraphError,
    SubgraphInvalidResponse,
    SubgraphTimeout,
    SupergraphError,
)
from federation.router.headers import Forwarded, HeaderRules, Insert, Propagate, Remove
from federation.router.http_app import build_app
from federation.router.limits import OperationLimits
from federation.router.options import RequestOptions
from federation.router.plan import Fetch, QueryPlan, print_plan
from federation.router.router import PreparedOperation, Router
from federation.router.subscriptions import (
    SubscriptionEvent,
    SubscriptionResult,
    SubscriptionStream,
)
from federation.router.supergraph import Supergraph
from federation.router.transports import (
    HttpTransport,
    InProcessTransport,
    SubgraphRequest,
    SubscriptionTransport,
    Transport,
    WebSocketTransport,
)

__all__ = [
    "FederationError",
    "Fetch",
    "Forwarded",
    "HeaderRules",
    "HttpTransport",
    "InProcessTransport",
    "Insert",
    "OperationError",
    "OperationLimits",
    "PreparedOperation",
    "Propagate",
    "QueryPlan",
    "Remove",
    "RequestOptions",
    "Router",
    "SubgraphError",
    "SubgraphInvalidResponse",
    "SubgraphRequest",
    "SubgraphTimeout",
    "SubscriptionEvent",
    "SubscriptionResult",
    "SubscriptionStream",
    "SubscriptionTransport",
    "Supergraph",
    "SupergraphError",
    "Transport",
    "WebSocketTransport",
    "build_app",
    "print_plan",
]
