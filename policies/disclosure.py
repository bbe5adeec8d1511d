"""What a caller may learn about the API beyond its data: the query plan and the schema.

The query plan names the subgraphs and how they are joined; the schema lists every type and
field, internal ones included. Both help while developing and help an attacker in production,
so in production the plan is for the admin scope only and introspection for the clients whose
configuration allows it. `__typename` is data and stays open to everyone. A client bound to
a contract learns only the contract's schema: it is validated and introspected against it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from federation.router.http_app import RequestOptions
from policies.principal import ADMIN_SCOPE, Principal


@dataclass(frozen=True, slots=True)
class DisclosurePolicy:
    development: bool
    introspecting_clients: frozenset[str]
    client_contracts: Mapping[str, str] = field(default_factory=dict)
    """The contract a client is held to whatever credential it presents (the principal's
    own `contract` wins: an API key's client carries it)."""

    def options_for(self, principal: Principal) -> RequestOptions:
        return RequestOptions(
            query_plan=self.development or principal.has_scope(ADMIN_SCOPE),
            introspection=principal.client_id in self.introspecting_clients,
            schema_variant=principal.contract or self.client_contracts.get(principal.client_id),
        )
