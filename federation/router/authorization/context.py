"""Who the caller is, as far as the supergraph's access rules ask: the router's one hook.

The embedding app decides it per request (from its own credentials and principal) and
hands it to ``Router.execute`` and ``Router.subscribe`` (through ``RequestOptions``): whether
the caller is authenticated, its scopes, and a function deciding ``@policy`` names, the role
Apollo Router gives a coprocessor. Without one, a caller is anonymous: every protected field
is removed, so a router nobody configured serves nothing a rule protects.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from inspect import isawaitable

PolicyDecider = Callable[[frozenset[str]], Iterable[str] | Awaitable[Iterable[str]]]
"""Given the policy names an operation's rules mention, the ones the caller satisfies (a
name left out is denied). Called once per request that mentions any, never otherwise."""


@dataclass(frozen=True, slots=True)
class AuthorizationContext:
    authenticated: bool = False
    scopes: frozenset[str] = field(default_factory=frozenset)
    decide_policies: PolicyDecider | None = None

    async def granted_policies(self, names: frozenset[str]) -> frozenset[str]:
        """The policies among ``names`` the caller satisfies; none without a decider."""
        if not names or self.decide_policies is None:
            return frozenset()
        decided = self.decide_policies(names)
        if not isinstance(decided, frozenset | set) and isawaitable(decided):
            decided = await decided
        return names.intersection(decided)  # type: ignore[arg-type]


ANONYMOUS = AuthorizationContext()
