"""The throttling stages of the pipeline, built from the configuration in one place.

Rate limits (`[throttling]`, `[plans.*] rate_limits`, `[clients.*] rate_limits`) become two
middlewares around authentication; open-subscription caps (`[plans.*] max_subscriptions`)
become the router's per-operation admission. The counters' storage is opened here and closed
with the app.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from gateway.config import GatewayConfig
from policies.admission import OpenSubscriptions, OperationAdmission
from policies.rate_limits import RateLimits, quotas_of
from policies.throttling import (
    ClientRateLimiting,
    FailedAuthenticationThrottle,
    QuotaBook,
    Refused,
)
from stores.rate_limits import open_rate_limit_storage


@dataclass(frozen=True, slots=True)
class Throttling:
    before_authentication: Sequence[Middleware]
    after_authentication: Sequence[Middleware]
    admission: OperationAdmission
    close: Callable[[], Awaitable[None]]


async def _nothing() -> None:
    return None


def build_throttling(
    config: GatewayConfig, routes: Sequence[BaseRoute], *, on_refused: Refused | None = None
) -> Throttling:
    """``on_refused`` is told each refusal (see `policies.throttling.Refused`)."""
    caps = {name: plan.max_subscriptions for name, plan in config.plans.items()}
    open_subscriptions = OpenSubscriptions()
    settings = config.throttling
    if not settings.enabled:
        admission = OperationAdmission(
            subscription_caps=caps, open_subscriptions=open_subscriptions, on_refused=on_refused
        )
        return Throttling((), (), admission, _nothing)
    url = settings.storage_url(config.stores.cache)
    storage = open_rate_limit_storage(url, namespace=config.stores.cache_namespace)
    fallback = None
    if url != "memory" and settings.when_storage_unreachable == "count-in-process":
        fallback = open_rate_limit_storage("memory", namespace=config.stores.cache_namespace)
    limits = RateLimits(storage.storage, settings.strategy, fallback=fallback and fallback.storage)
    quotas = QuotaBook(
        {name: quotas_of(plan.rate_limits) for name, plan in config.plans.items()},
        {
            name: quotas_of(client.rate_limits)
            for name, client in config.clients.items()
            if client.rate_limits is not None
        },
    )
    failures = quotas_of(settings.unauthenticated_failures)
    return Throttling(
        before_authentication=(
            Middleware(
                FailedAuthenticationThrottle,
                limits=limits,
                quotas=failures,
                routes=routes,
                on_refused=on_refused,
            ),
        ),
        after_authentication=(
            Middleware(ClientRateLimiting, limits=limits, quotas=quotas, on_refused=on_refused),
        ),
        admission=OperationAdmission(
            subscription_caps=caps,
            open_subscriptions=open_subscriptions,
            limits=limits,
            quotas=quotas,
            on_refused=on_refused,
        ),
        close=storage.close,
    )
