"""What a resolver may know of the request: the caller and the process services.

The gateway passes a `SubgraphContext` as the GraphQL context of in-process subgraphs; a
subgraph served on its own builds the same object from its request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from policies.principal import Principal
from process_apis.services import LogisticsServices


@dataclass(frozen=True, slots=True)
class SubgraphContext:
    principal: Principal
    services: LogisticsServices


def context_of(info: Any) -> SubgraphContext:
    context = info.context
    if not isinstance(context, SubgraphContext):
        raise PermissionError("no authenticated caller")
    return context
