"""Demand control: the cost of operations from ``@cost`` and ``@listSize`` in the supergraph.

directives = CostDirectives.of(supergraph)                 # once per supergraph
cost = compile_cost(schema, directives, settings, document, operation)  # once per operation
cost.estimate(variables).cost                              # per request, before any fetch
cost.actual(data, variables)                               # per request, after it
"""

from federation.router.cost.calculator import (
    DEFAULT_LIST_SIZE,
    MAX_REPORTED_COST,
    MUTATION_COST,
    CostSettings,
    Estimate,
    OperationCost,
    compile_cost,
    reported,
)
from federation.router.cost.control import (
    COST_OK,
    NO_COST_CONTROL,
    SLICING_ARGUMENT_MISSING,
    TOO_EXPENSIVE,
    CostControl,
    CostObserver,
    CostReport,
    cannot_estimate,
    too_expensive,
)
from federation.router.cost.directives import CostDirectives, ListSize

__all__ = [
    "COST_OK",
    "DEFAULT_LIST_SIZE",
    "MAX_REPORTED_COST",
    "MUTATION_COST",
    "NO_COST_CONTROL",
    "SLICING_ARGUMENT_MISSING",
    "TOO_EXPENSIVE",
    "CostControl",
    "CostDirectives",
    "CostObserver",
    "CostReport",
    "CostSettings",
    "Estimate",
    "ListSize",
    "OperationCost",
    "cannot_estimate",
    "compile_cost",
    "reported",
    "too_expensive",
]
