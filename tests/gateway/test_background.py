"""Background work stops within its grace period, finishing what it can."""

from __future__ import annotations

import asyncio

from gateway.background import finish_background


async def test_work_that_sees_the_stop_finishes_and_work_stuck_on_a_backend_is_cut_short():
    stop = asyncio.Event()
    finished: list[str] = []

    async def polite() -> None:
        await stop.wait()
        await asyncio.sleep(0.01)  # finishes the round it was in
        finished.append("polite")

    async def stuck() -> None:
        try:
            await asyncio.Event().wait()  # a backend that never answers
        finally:
            finished.append("stuck unwound")

    tasks = [asyncio.create_task(polite()), asyncio.create_task(stuck())]
    await asyncio.sleep(0)
    stop.set()
    began = asyncio.get_running_loop().time()
    await finish_background(tasks, grace_s=0.2)
    assert sorted(finished) == ["polite", "stuck unwound"]
    assert tasks[0].done() and not tasks[0].cancelled()
    assert tasks[1].cancelled()
    assert asyncio.get_running_loop().time() - began < 10, "never waits on the stuck one"


async def test_nothing_to_stop_returns_at_once():
    await finish_background([], grace_s=5.0)
