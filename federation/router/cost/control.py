"""Demand control for one request: its budget, who sees its cost, who is told about it.

The embedding app decides these per caller (a plan's budget, an operator's view) and hands
them to the router with the request's options; the router estimates the cost before any
subgraph is called, refuses an operation over budget, measures the actual cost of what it
answered, and reports both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from federation.router.cost.calculator import reported
from federation.router.errors import OperationError

COST_OK = "COST_OK"
TOO_EXPENSIVE = "COST_ESTIMATED_TOO_EXPENSIVE"
"""The ``extensions.code`` of an operation refused for its estimated cost (as Apollo)."""
SLICING_ARGUMENT_MISSING = "COST_QUERY_PARSE_FAILURE"
"""The code Apollo Router gives an operation whose cost cannot be estimated: a list whose
``@listSize`` requires exactly one slicing argument got none or several."""


@dataclass(frozen=True, slots=True)
class CostReport:
    """What one operation cost: ``estimated`` before it ran, ``actual`` for what it answered
    (None when it never ran), against ``max`` (None without a budget)."""

    operation_id: str
    """A digest of the document and operation name: the same operation is the same id."""
    operation_name: str | None
    kind: str
    estimated: int
    actual: int | None
    max: float | None
    result: str

    def extension(self) -> dict[str, Any]:
        """``extensions.cost`` of the response."""
        return {
            "estimated": reported(self.estimated),
            "actual": None if self.actual is None else reported(self.actual),
            "max": self.max,
            "result": self.result,
        }


CostObserver = Callable[[CostReport], None]


@dataclass(frozen=True, slots=True)
class CostControl:
    """``max_cost``: operations estimated above it are refused before any fetch (None: no
    budget); ``budget_name`` says in the refusal where the budget is set. ``expose`` puts
    ``extensions.cost`` in the response; ``observe`` receives a ``CostReport`` per operation
    (per event for a subscription). Nothing is computed when none of them is set."""

    max_cost: float | None = None
    budget_name: str = ""
    expose: bool = False
    observe: CostObserver | None = None

    @property
    def active(self) -> bool:
        return self.max_cost is not None or self.expose or self.observe is not None


NO_COST_CONTROL = CostControl()


def too_expensive(estimated: int, control: CostControl) -> OperationError:
    where = f" ({control.budget_name})" if control.budget_name else ""
    message = (
        f"The operation's estimated cost {reported(estimated)} exceeds the maximum of "
        f"{_number(control.max_cost)}{where}."
    )
    extensions = {
        "code": TOO_EXPENSIVE,
        "cost.estimated": reported(estimated),
        "cost.max": control.max_cost,
    }
    return OperationError([{"message": message, "extensions": extensions}], kind="cost")


def cannot_estimate(problems: tuple[str, ...]) -> OperationError:
    errors = [
        {
            "message": f"The operation's cost cannot be estimated: {problem}",
            "extensions": {"code": SLICING_ARGUMENT_MISSING},
        }
        for problem in problems
    ]
    return OperationError(errors, kind="cost")


def _number(value: float | None) -> str:
    if value is None:
        return "none"
    return str(int(value)) if float(value).is_integer() else str(value)
