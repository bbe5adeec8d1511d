"""Stopping the gateway's background work: pollers, projections, workflow runs, schedules."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence


async def finish_background(tasks: Sequence[asyncio.Task[object]], grace_s: float) -> None:
    """Waits up to `grace_s` for `tasks`, told to stop already, to finish; then cancels the
    rest and waits for them to unwind. A poll round or workflow step still waiting on a slow
    backend must not hold a shutdown, and each is safe to cut short: a cursor moves, and a
    step counts as done, only once it is stored."""
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=grace_s)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
