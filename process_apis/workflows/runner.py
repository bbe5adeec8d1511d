"""The workflow runner: one per deployment (it holds a lease), it advances every workflow that
is due: at start-up the ones a stopped or killed process left running, then each new or
retried one as it comes (woken at once in this process, found by polling from another) and
each waiting one when its pause is over.

Workflows are advanced a few at a time, never one workflow twice at once (a batch holds
distinct ids, and batches do not overlap). The lease is renewed between batches and, while a
batch runs, every third of its TTL (a step may wait on a slow backend longer than the lease
lives: without renewal another replica would take the lease over and run the same workflows
beside this one); a runner that loses it stops after its batch, and whoever takes it over
resumes where the rows say.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime

from process_apis.consumers import stopped_within
from process_apis.workflows.engine import WorkflowEngine
from stores.leases import LeaseStore

logger = logging.getLogger(__name__)

RUNNER_LEASE = "workflows:runner"


@dataclass(slots=True)
class WorkflowRunner:
    engine: WorkflowEngine
    leases: LeaseStore
    holder_id: str
    lease_ttl_s: float = 30.0
    poll_s: float = 0.5
    """How often to look for workflows started or retried by other processes."""
    concurrency: int = 8
    failure_backoff_s: float = 1.0

    async def run(self, stop: asyncio.Event) -> None:
        """Advance due workflows while this process holds the runner's lease, until `stop`."""
        holding = False
        try:
            while not stop.is_set():
                try:
                    holding = await self.leases.acquire(
                        RUNNER_LEASE, self.holder_id, self.lease_ttl_s
                    )
                    if holding:
                        await self._work(stop)
                        continue
                    wait_s = self.lease_ttl_s / 3
                except Exception:
                    logger.exception("workflow runner failed; retrying")
                    wait_s = self.failure_backoff_s
                if await stopped_within(stop, wait_s):
                    return
        finally:
            if holding:
                try:
                    await self.leases.release(RUNNER_LEASE, self.holder_id)
                except Exception:
                    logger.warning("could not release the workflow runner's lease")

    async def run_due(self) -> int:
        """Advance every workflow due now, once (for tools and tests; no lease): how many."""
        due = await self.engine.store.due(datetime.now(UTC), self.concurrency)
        await self._advance_all(due)
        return len(due)

    async def _work(self, stop: asyncio.Event) -> None:
        """Batches of due workflows while the lease is fresh; then back to `run` to renew it."""
        renewed_at = time.monotonic()
        while not stop.is_set() and time.monotonic() - renewed_at < self.lease_ttl_s / 3:
            due = await self.engine.store.due(datetime.now(UTC), self.concurrency)
            if due:
                failed = await self._advance_holding_the_lease(due)
                if failed == len(due) and await stopped_within(stop, self.failure_backoff_s):
                    return  # every one failed (the database or the log is down): pause
                continue
            await self._idle(stop)

    async def _advance_holding_the_lease(self, workflow_ids: Sequence[str]) -> int:
        async def renew() -> None:
            while True:
                await asyncio.sleep(self.lease_ttl_s / 3)
                try:
                    if not await self.leases.acquire(
                        RUNNER_LEASE, self.holder_id, self.lease_ttl_s
                    ):
                        logger.warning("the workflow runner's lease was taken over mid-batch")
                        return
                except Exception:  # the batch goes on; the next renewal may succeed
                    logger.warning("renewing the workflow runner's lease failed", exc_info=True)

        keeper = asyncio.create_task(renew())
        try:
            return await self._advance_all(workflow_ids)
        finally:
            keeper.cancel()
            with suppress(asyncio.CancelledError):
                await keeper

    async def _advance_all(self, workflow_ids: Sequence[str]) -> int:
        """Advance each; how many failed (they stay due and are tried again)."""

        async def advance(workflow_id: str) -> bool:
            try:
                await self.engine.advance(workflow_id)
            except Exception:
                logger.exception("advancing workflow %s failed; it is tried again", workflow_id)
                return False
            return True

        outcomes = await asyncio.gather(*(advance(workflow_id) for workflow_id in workflow_ids))
        return outcomes.count(False)

    async def _idle(self, stop: asyncio.Event) -> None:
        """Until woken, stopped, the next waiting workflow is due, or `poll_s` passed."""
        wait_s = self.poll_s
        due_at = await self.engine.store.next_due_at()
        if due_at is not None:
            wait_s = max(0.0, min(wait_s, (due_at - datetime.now(UTC)).total_seconds()))
        waking = asyncio.ensure_future(self.engine.wake.wait(wait_s))
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({waking, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waking.cancel()
            stopping.cancel()
