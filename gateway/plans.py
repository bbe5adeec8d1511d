"""Plans: what a client may spend, named once and shared by the clients on it.

A client's plan (`[clients.<name>] plan`) names an entry of `[plans]`; every policy that
meters clients (rate limits, operation cost budgets, open subscriptions) reads its numbers
from the plan, so moving a partner from `basic` to `premium` is one line.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from policies.principal import DEFAULT_PLAN


class PlanConfig(BaseModel):
    """One plan's allowances; each metering policy adds its own key here."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = Field("", max_length=200)


def default_plans() -> dict[str, PlanConfig]:
    return {
        DEFAULT_PLAN: PlanConfig(description="the gateway's own apps and portals"),
        "basic": PlanConfig(description="partners on the entry plan"),
        "premium": PlanConfig(description="partners on the larger plan"),
    }
