"""Plans: what a client may spend, named once and shared by the clients on it.

A client's plan (`[clients.<name>] plan`) names an entry of `[plans]`; every policy that
meters clients (rate limits, operation cost budgets, open subscriptions) reads its numbers
from the plan, so moving a partner from `basic` to `premium` is one line.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from policies.principal import DEFAULT_PLAN
from policies.rate_limits import parse_quotas


def _checked_rate_limits(value: tuple[str, ...]) -> tuple[str, ...]:
    parse_quotas(value)
    return value


RateLimitList = Annotated[tuple[str, ...], AfterValidator(_checked_rate_limits)]
"""Rate limits in the `limits` string notation (`["600/minute", "20/second"]`), each counted
per client; checked at start, with a message saying which entry is wrong and why."""


class PlanConfig(BaseModel):
    """One plan's allowances; each metering policy adds its own key here."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = Field("", max_length=200)
    rate_limits: RateLimitList = ()
    """Requests each client of the plan may send per window (`[throttling]` counts them);
    empty: no limit."""
    max_subscriptions: int = Field(100, ge=1, le=100_000)
    """Subscriptions one client of the plan may hold open at once, over all its WebSocket,
    SSE and multipart connections (counted per gateway process)."""
    max_cost: int | None = Field(None, ge=1, le=10**12)
    """The estimated cost one operation of a client on the plan may have (`@cost` and
    `@listSize`, see `[demand_control]`); above it the operation is refused before any
    backend is called. Unset: no budget."""


def default_plans() -> dict[str, PlanConfig]:
    """Limits a person can reach by hand in the demo (a burst of a few hundred requests)."""
    return {
        DEFAULT_PLAN: PlanConfig(
            description="the gateway's own apps and portals",
            rate_limits=("300/minute", "50/second"),
            max_subscriptions=50,
            max_cost=50_000,
        ),
        "basic": PlanConfig(
            description="partners on the entry plan",
            rate_limits=("100/minute", "10/second"),
            max_subscriptions=5,
            max_cost=5_000,
        ),
        "premium": PlanConfig(
            description="partners on the larger plan",
            rate_limits=("600/minute", "100/second"),
            max_subscriptions=200,
            max_cost=100_000,
        ),
    }
