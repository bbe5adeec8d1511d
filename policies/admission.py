"""Each operation a streaming client starts: counted like a request, and capped when it is a
subscription.

A WebSocket carries any number of operations after one upgrade, so each `subscribe` message
spends the client's rate limits as an HTTP request would (an SSE or multipart request is an
HTTP request already, counted by `policies.throttling.ClientRateLimiting`). A subscription
also takes one of the client's open-subscription slots (`[plans.<name>] max_subscriptions`)
until it ends, over all its WebSocket, SSE and multipart connections; past the cap it is
refused with `TOO_MANY_SUBSCRIPTIONS` while the client's other operations go on.

Open subscriptions are counted per gateway process: a subscription lives on one process (its
connection does), and a count kept in that process cannot outlive it, where a shared one
would keep the slots of a process that died until they expired. A deployment of N processes
behind a balancer thus holds at most N times the cap per client.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from federation.router.streaming import ADMITTED, Admission, Admit
from policies.principal import DEFAULT_PLAN, Principal
from policies.rate_limits import RateLimits
from policies.throttling import QuotaBook, Refused, client_key, rate_limited_error

TOO_MANY_SUBSCRIPTIONS = "TOO_MANY_SUBSCRIPTIONS"


class OpenSubscriptions:
    """How many subscriptions each client holds open in this process."""

    def __init__(self) -> None:
        self._open: dict[str, int] = {}

    def count(self, client_id: str) -> int:
        return self._open.get(client_id, 0)

    def take(self, client_id: str, cap: int) -> Callable[[], None] | None:
        """A slot under `cap`, and what gives it back (once); None when all are taken."""
        if self.count(client_id) >= cap:
            return None
        self._open[client_id] = self.count(client_id) + 1
        given_back = False

        def give_back() -> None:
            nonlocal given_back
            if given_back:
                return
            given_back = True
            left = self.count(client_id) - 1
            if left > 0:
                self._open[client_id] = left
            else:
                self._open.pop(client_id, None)

        return give_back


class OperationAdmission:
    """Decides each streamed operation of a principal (see the module docstring)."""

    def __init__(
        self,
        *,
        subscription_caps: Mapping[str, int],
        open_subscriptions: OpenSubscriptions,
        limits: RateLimits | None = None,
        quotas: QuotaBook | None = None,
        on_refused: Refused | None = None,
    ) -> None:
        self._caps = dict(subscription_caps)
        self._open = open_subscriptions
        self._limits = limits
        self._quotas = quotas
        self._on_refused = on_refused

    def cap_for(self, principal: Principal) -> int:
        cap = self._caps.get(principal.plan)
        return cap if cap is not None else self._caps.get(DEFAULT_PLAN, 1)

    def for_principal(self, principal: Principal) -> Admit:
        async def admit(kind: str, transport: str) -> Admission:
            if transport == "websocket" and self._limits is not None and self._quotas:
                verdict = await self._limits.hit(
                    client_key(principal), self._quotas.quotas_for(principal)
                )
                if not verdict.allowed:
                    if self._on_refused is not None:
                        self._on_refused("client", principal.client_id)
                    headers = tuple((n.decode(), v.decode()) for n, v in verdict.headers())
                    error = rate_limited_error(verdict, "this client")
                    return Admission(errors=(error,), status=429, headers=headers)
            if kind != "subscription":
                return ADMITTED
            cap = self.cap_for(principal)
            release = self._open.take(principal.client_id, cap)
            if release is None:
                if self._on_refused is not None:
                    self._on_refused("subscriptions", principal.client_id)
                error = {
                    "message": f"Too many open subscriptions: this client may hold {cap} at "
                    "once; complete one before starting another.",
                    "extensions": {"code": TOO_MANY_SUBSCRIPTIONS, "limit": cap},
                }
                return Admission(errors=(error,), status=429)
            return Admission(release=release)

        return admit
