"""Demand control per caller: its plan's budget, whether it sees costs, where costs are counted.

The router estimates each operation's cost from the supergraph's `@cost` and `@listSize`
and refuses one over the budget before any backend is called; this policy decides the budget
(`[plans.<name>] max_cost`, absent in `measure` mode), who sees `extensions.cost`, and
records every estimate and actual cost in the ledger an operator tunes budgets with.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from federation.router.cost import COST_OK, CostControl, CostReport, reported
from federation.router.options import RequestOptions
from policies.cost_ledger import CostLedger
from policies.principal import ADMIN_SCOPE, DEFAULT_PLAN, Principal

_logger = logging.getLogger("policies.demand")


@dataclass(frozen=True)
class DemandPolicy:
    enabled: bool
    enforce: bool
    budgets: Mapping[str, int | None]
    """`max_cost` per plan name."""
    expose: str
    """`admin`, `everyone` or `nobody`: who gets `extensions.cost`."""
    ledger: CostLedger
    log_operations: bool = False

    def control_for(self, principal: Principal) -> CostControl:
        if not self.enabled:
            return CostControl()
        plan = principal.plan if principal.plan in self.budgets else DEFAULT_PLAN
        budget = self.budgets.get(plan) if self.enforce else None
        expose = self.expose == "everyone" or (
            self.expose == "admin" and principal.has_scope(ADMIN_SCOPE)
        )

        def observe(report: CostReport) -> None:
            self.ledger.record(principal.client_id, report)
            if report.result != COST_OK or self.log_operations:
                _logger.info(
                    "operation cost: %s",
                    report.result,
                    extra={
                        "code": report.result,
                        "operation": report.operation_name,
                        "operation_id": report.operation_id,
                        "cost_estimated": reported(report.estimated),
                        "cost_actual": None if report.actual is None else reported(report.actual),
                        "cost_max": report.max,
                    },
                )

        return CostControl(
            max_cost=budget,
            budget_name=f"plans.{plan}.max_cost" if budget is not None else "",
            expose=expose,
            observe=observe,
        )

    def apply(self, options: RequestOptions, principal: Principal) -> RequestOptions:
        return dataclasses.replace(options, cost=self.control_for(principal))
