"""What a resolver may know of the request: the caller and the process services.

The context is a mapping, as strawberry's own servers make it. In the gateway it holds the
client's `request`, whose state carries the authenticated `principal` (set by the
authentication policy), the `services` (the process layer, from the app's lifespan) and the
`cursors` signer of paged lists; a context may also carry them directly, as a subgraph served
on its own or a test builds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from policies.cursors import CursorSigner
from policies.principal import Principal
from process_apis.services import LogisticsServices
from resolvers.errors import PublicError


@dataclass(frozen=True, slots=True)
class SubgraphContext:
    principal: Principal
    services: LogisticsServices
    cursors: CursorSigner


def context_of(info: Any) -> SubgraphContext:
    context = info.context if isinstance(info.context, Mapping) else {}
    state = getattr(context.get("request"), "state", None)
    principal = context.get("principal") or getattr(state, "principal", None)
    services = context.get("services") or getattr(state, "services", None)
    cursors = context.get("cursors") or getattr(state, "cursors", None)
    if not isinstance(principal, Principal):
        raise PublicError("authentication required", "UNAUTHENTICATED")
    if not isinstance(services, LogisticsServices):
        raise RuntimeError("subgraph context has no services")
    if not isinstance(cursors, CursorSigner):
        raise RuntimeError("subgraph context has no cursor signer")
    return SubgraphContext(principal, services, cursors)
