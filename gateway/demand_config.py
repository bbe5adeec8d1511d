"""`[demand_control]`: how operations' costs are estimated, enforced, shown and counted.

The budgets themselves are per plan (`[plans.<name>] max_cost`); the weights and list sizes
come from the supergraph (`@cost`, `@listSize`). This section says how they are applied.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from federation.router.cost import DEFAULT_LIST_SIZE


class DemandControlConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    """Estimate each operation's cost and measure what it answered; false: neither."""
    mode: Literal["enforce", "measure"] = "enforce"
    """`enforce` refuses an operation over its plan's `max_cost` before any backend is
    called (`COST_ESTIMATED_TOO_EXPENSIVE`); `measure` only counts, to tune the budgets."""
    list_size: int = Field(DEFAULT_LIST_SIZE, ge=0, le=100_000)
    """How long a list without `@listSize` is assumed to be."""
    expose: Literal["admin", "everyone", "nobody"] = "admin"
    """Who gets `extensions.cost` ({estimated, actual, max, result}) in responses."""
    recent_operations: int = Field(1000, ge=1, le=100_000)
    """Operations (per client and document) whose estimated and actual costs this process
    keeps for `GET /admin/costs`; the least recently run are forgotten first."""
    log_operations: bool = False
    """A log line (`cost_estimated`, `cost_actual`) for every operation; refusals are always
    logged."""
