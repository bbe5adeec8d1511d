"""What each client's operations cost, estimated against actual, kept for tuning budgets.

An operator reads it at `GET /admin/costs`: per client and operation (document and name), how
often it ran or was refused, and its estimated and actual costs (last, largest, mean). A
budget is tuned by comparing the two: an estimate far above what operations actually cost
says a `@listSize` assumes too much; refusals of operations that cost little when run say a
plan's `max_cost` is too low. Kept in this process's memory, bounded: the least recently run
operations are forgotten first.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from federation.router.cost import COST_OK, CostReport, reported


@dataclass
class _Tally:
    client: str
    operation_id: str
    operation_name: str | None
    kind: str
    runs: int = 0
    refused: int = 0
    estimated_last: int = 0
    estimated_max: int = 0
    estimated_sum: int = 0
    actual_last: int | None = None
    actual_max: int = 0
    actual_sum: int = 0
    measured: int = 0
    max_cost: float | None = None
    last_result: str = COST_OK
    last_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def add(self, report: CostReport) -> None:
        self.last_at = datetime.now(UTC)
        self.last_result = report.result
        self.max_cost = report.max
        self.estimated_last = report.estimated
        self.estimated_max = max(self.estimated_max, report.estimated)
        self.estimated_sum += report.estimated
        if report.actual is None:
            self.refused += 1
            return
        self.runs += 1
        self.measured += 1
        self.actual_last = report.actual
        self.actual_max = max(self.actual_max, report.actual)
        self.actual_sum += report.actual

    def as_dict(self) -> dict[str, Any]:
        seen = self.runs + self.refused
        estimated_mean = self.estimated_sum / seen if seen else 0.0
        actual_mean = self.actual_sum / self.measured if self.measured else None
        return {
            "client": self.client,
            "operation": self.operation_name,
            "operation_id": self.operation_id,
            "kind": self.kind,
            "runs": self.runs,
            "refused": self.refused,
            "max_cost": self.max_cost,
            "last_result": self.last_result,
            "last_at": self.last_at.isoformat(timespec="seconds"),
            "estimated": {
                "last": reported(self.estimated_last),
                "max": reported(self.estimated_max),
                "mean": round(estimated_mean, 1),
            },
            "actual": {
                "last": None if self.actual_last is None else reported(self.actual_last),
                "max": reported(self.actual_max),
                "mean": None if actual_mean is None else round(actual_mean, 1),
            },
            "actual_to_estimated": (
                None
                if actual_mean is None or not estimated_mean
                else round(actual_mean / estimated_mean, 4)
            ),
        }


class CostLedger:
    """The recent operations' costs per client (see the module docstring)."""

    def __init__(self, max_entries: int = 1000) -> None:
        self.max_entries = max_entries
        self._tallies: OrderedDict[tuple[str, str], _Tally] = OrderedDict()

    def record(self, client: str, report: CostReport) -> None:
        key = (client, report.operation_id)
        tally = self._tallies.get(key)
        if tally is None:
            tally = _Tally(client, report.operation_id, report.operation_name, report.kind)
            self._tallies[key] = tally
            while len(self._tallies) > self.max_entries:
                self._tallies.popitem(last=False)
        else:
            self._tallies.move_to_end(key)
        tally.add(report)

    def entries(self, client: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Most recently run first; only ``client``'s when given."""
        found = []
        for tally in reversed(self._tallies.values()):
            if client is not None and tally.client != client:
                continue
            found.append(tally.as_dict())
            if limit is not None and len(found) >= limit:
                break
        return found

    def __len__(self) -> int:
        return len(self._tallies)
