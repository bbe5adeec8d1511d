"""After authentication: the backend calls a request causes are made for its principal's
tenant, so each takes that tenant's share of the backend (`system_apis.context`)."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from policies.principal import Principal
from system_apis.context import tenant_scope


class BackendTenant:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = scope.get("state", {}).get("principal")
        if not isinstance(principal, Principal):
            await self.app(scope, receive, send)
            return
        with tenant_scope(principal.tenant_id):
            await self.app(scope, receive, send)
