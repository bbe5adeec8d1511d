"""Which callers may run only registered operations (trusted documents from the manifests).

A partner integration that should never send a query of its own is held to the documents
the deployment registered: anything else is refused (`PERSISTED_QUERY_NOT_IN_LIST`) before
it is parsed, and it cannot register automatic persisted queries either.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from federation.router.options import RequestOptions
from policies.principal import Principal


@dataclass(frozen=True, slots=True)
class RegisteredOperationsPolicy:
    registered_only_clients: frozenset[str]

    def apply(self, options: RequestOptions, principal: Principal) -> RequestOptions:
        if principal.client_id not in self.registered_only_clients:
            return options
        return dataclasses.replace(options, registered_operations_only=True)
