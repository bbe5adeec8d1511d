"""Query planning: a pure function from (supergraph, operation) to a QueryPlan."""

from federation.router.planner.planner import plan_operation

__all__ = ["plan_operation"]
