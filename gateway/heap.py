"""The serving process's garbage collector, tuned once startup is over.

A full collection walks every container object of the process and stops everything while it
does. With a thousand WebSocket subscribers that is a pause of 100 to 300 ms on a small machine,
and every event being delivered meanwhile waits for it: in `bench.ingest` with a thousand
subscribers, CPython's defaults ran some twenty full passes per run and put one inside an
event's fan-out in most rounds, which alone took the p99 delivery delay past 100 ms.

Two changes, only in the serving commands (a process that builds and drops many apps, the
tests, would keep each one's frozen objects forever):

- what startup built (modules, schemas, plans, configuration, engines and pools) lives as long
  as the process and is never garbage, so it is frozen (`gc.freeze`) and no pass walks it again;
- a full pass waits for `FULL_PASS_AFTER` passes of the middle generation instead of 10, so a
  burst of connections, each building hundreds of long-lived objects, no longer sets off a
  full pass every quarter of growth. Cycles that reach the oldest generation are freed a
  little later; the bench run above needed three full passes instead of twenty.
"""

from __future__ import annotations

import gc

FULL_PASS_AFTER = 100
"""Collections of the middle generation between two full ones at most (CPython: 10)."""


def settle_heap() -> None:
    """Collect what startup left behind, freeze the rest, and space out the full passes."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_PASS_AFTER)
