"""Who may see what the supergraph protects: the principal as the router's access rules read it.

The router enforces ``@authenticated``, ``@requiresScopes`` and ``@policy`` itself; this
module says who the caller is for them. A principal is authenticated (it presented a valid
credential) and has its scopes; each ``@policy`` name is decided by a policy the
configuration defines (``[authorization.policies.<name>]``): one of the registered rules
below, narrowed if wanted to some clients, tenants, plans or scopes. A policy name nobody
defined is denied, as Apollo Router denies a policy its coprocessor left undecided.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial

from federation.router.authorization import AuthorizationContext
from federation.router.options import RequestOptions
from policies.principal import ADMIN_SCOPE, Principal

WAREHOUSE_SCOPE = "warehouse"

PolicyRule = Callable[[Principal], bool]
"""A registered rule: whether the principal satisfies it."""


def tenant_member(principal: Principal) -> bool:
    """Acts for a tenant: may see records of its own tenant (resolvers keep it to that one)."""
    return bool(principal.tenant_id)


def warehouse_staff(principal: Principal) -> bool:
    """Works in at least one warehouse, with the scope to write there."""
    return principal.has_scope(WAREHOUSE_SCOPE) and bool(principal.warehouses)


def admin(principal: Principal) -> bool:
    """Operates the deployment."""
    return principal.has_scope(ADMIN_SCOPE)


def anyone(_: Principal) -> bool:
    """Every authenticated caller; the policy's own conditions do the narrowing."""
    return True


RULES: Mapping[str, PolicyRule] = {
    "tenant_member": tenant_member,
    "warehouse_staff": warehouse_staff,
    "admin": admin,
    "anyone": anyone,
}
"""The rules a policy can be defined with, by the name the configuration uses."""


@dataclass(frozen=True, slots=True)
class Policy:
    """One ``@policy`` name's decision: its rule, and every condition given must hold too."""

    rule: PolicyRule
    clients: frozenset[str] | None = None
    tenants: frozenset[str] | None = None
    plans: frozenset[str] | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)

    def holds(self, principal: Principal) -> bool:
        return (
            (self.clients is None or principal.client_id in self.clients)
            and (self.tenants is None or principal.tenant_id in self.tenants)
            and (self.plans is None or principal.plan in self.plans)
            and self.scopes <= principal.scopes
            and self.rule(principal)
        )


@dataclass(frozen=True, slots=True)
class Authorizer:
    """The principal → authorization context mapping the router's access rules read."""

    policies: Mapping[str, Policy]

    def decide(self, principal: Principal, names: Iterable[str]) -> frozenset[str]:
        """The policy names among ``names`` the principal satisfies."""
        decided = set()
        for name in names:
            policy = self.policies.get(name)
            if policy is not None and policy.holds(principal):
                decided.add(name)
        return frozenset(decided)

    def context_for(self, principal: Principal) -> AuthorizationContext:
        return AuthorizationContext(
            authenticated=True,
            scopes=principal.scopes,
            decide_policies=partial(self.decide, principal),
        )

    def options_for(self, options: RequestOptions, principal: Principal) -> RequestOptions:
        """``options`` carrying the principal's authorization context."""
        return replace(options, authorization=self.context_for(principal))

    def undefined(self, names: Iterable[str]) -> list[str]:
        """The policy names among ``names`` no policy defines (they would always be denied)."""
        return sorted(set(names) - set(self.policies))
