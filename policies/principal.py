"""Who is calling: the result of authentication that every later policy reads."""

from __future__ import annotations

from dataclasses import dataclass, field

ADMIN_SCOPE = "admin"
"""Operations: dead letters, replays, query plans in production."""

DEFAULT_PLAN = "standard"
"""The plan of a client the configuration gives none: what it may spend (rate, cost, ...)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated client acting for exactly one tenant (a customer account)."""

    client_id: str
    tenant_id: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    warehouses: frozenset[str] = field(default_factory=frozenset)
    """The warehouses the client may act in (warehouse writes); none for a portal."""
    plan: str = DEFAULT_PLAN
    """The plan the client is on (`[plans.<name>]`): its rate limits, budgets and caps."""
    contract: str | None = None
    """The contract the client is bound to (`[contracts.<name>]`): the only schema it sees."""

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def sharing_key(self) -> str:
        """Whose live results this principal may share: same tenant, client and scopes."""
        return "\x1f".join((self.tenant_id, self.client_id, *sorted(self.scopes)))
