"""A backend that answers like an attacker: the system API clients stay bounded in time and
memory and say what happened, against the real reference backends as processes.

Each test injects the hostile answer with the sandbox's own fault controls (`trickle_ms`,
`huge_body_bytes`, `redirect_status`) and goes through the ERP client exactly as the product
does. Measured figures are printed (`-s` shows them).
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from process_apis.projections_milestones import MilestoneHistoryProjection
from process_apis.tracking import MilestoneRecorder
from stores import SqlEventLog, SqlMilestoneStore, create_tables, open_engine
from stores.event_log import StoredEvent
from system_apis import (
    BackendRedirected,
    BackendResponseTooLarge,
    BackendTimeout,
    ErpClient,
    RoadLineClient,
)
from tests.sandbox_processes import Sandbox
from tests.system_apis.conftest import fast_settings

pytestmark = pytest.mark.sandbox

ORDER = "SO-100001"


@pytest.fixture
def faults(clean_faults: Sandbox) -> Iterator[Sandbox]:
    yield clean_faults


async def test_a_trickled_body_is_cut_at_the_attempt_deadline(faults: Sandbox) -> None:
    """16 bytes every 100 ms never leaves a read idle for a second, yet a 1 s call ends at 1 s."""
    await faults.aset_faults("erp", trickle_ms=100)
    settings = fast_settings(faults, "erp", timeout_s=1.0, max_retries=0)
    async with ErpClient.from_settings(settings) as erp:
        start = time.perf_counter()
        with pytest.raises(BackendTimeout) as raised:
            await erp.order(ORDER)
        took = time.perf_counter() - start
    print(f"\ntrickled body, 1 s attempt deadline: BackendTimeout after {took:.2f} s")
    assert raised.value.timeout_s == 1.0
    assert "did not answer in time" in raised.value.public_message
    assert 0.9 <= took < 1.6, f"a 1 s attempt took {took:.2f} s"


async def test_the_call_deadline_bounds_every_attempt_and_wait_together(faults: Sandbox) -> None:
    await faults.aset_faults("erp", trickle_ms=100)
    settings = fast_settings(
        faults, "erp", timeout_s=1.0, call_timeout_s=1.5, max_retries=5, backoff_base_s=0.2
    )
    async with ErpClient.from_settings(settings) as erp:
        start = time.perf_counter()
        with pytest.raises(BackendTimeout) as raised:
            await erp.order(ORDER)
        took = time.perf_counter() - start
        attempts = erp.backend.requests_sent
    print(f"\ntrickled body, 1.5 s call deadline, 5 retries allowed: {took:.2f} s, {attempts} sent")
    assert raised.value.timeout_s == 1.5
    assert attempts == 2, "the second attempt is cut by the call deadline, no third starts"
    assert 1.4 <= took < 2.1, f"a call with a 1.5 s deadline took {took:.2f} s"


async def test_a_huge_body_is_abandoned_at_the_cap_in_bounded_memory(faults: Sandbox) -> None:
    await faults.aset_faults("erp", huge_body_bytes=200_000_000)
    settings = fast_settings(faults, "erp", max_response_bytes=1_000_000, max_retries=2)
    async with ErpClient.from_settings(settings) as erp:
        tracemalloc.start()
        start = time.perf_counter()
        try:
            with pytest.raises(BackendResponseTooLarge) as raised:
                await erp.order(ORDER)
            took = time.perf_counter() - start
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        attempts = erp.backend.requests_sent
        failures = erp.backend.breaker.snapshot().total_failures
    print(f"\n200 MB body, 1 MB cap: {type(raised.value).__name__} after {took:.2f} s, "
          f"peak {peak / 1e6:.1f} MB allocated, {attempts} attempt(s)")  # fmt: skip
    assert raised.value.limit_bytes == 1_000_000
    assert "more data than accepted" in raised.value.public_message
    assert attempts == 1, "an answer too large is not fetched again"
    assert failures == 1, "a backend that floods us counts against its breaker"
    assert peak < 8_000_000, f"peak {peak} bytes while reading past a 1 MB cap"
    assert took < 3.0


async def test_a_body_under_the_cap_still_arrives_whole(faults: Sandbox) -> None:
    settings = fast_settings(faults, "erp", max_response_bytes=1_000_000)
    async with ErpClient.from_settings(settings) as erp:
        order = await erp.order(ORDER)
    assert order.order_id == ORDER


async def test_a_declared_length_past_the_cap_is_refused_before_reading(faults: Sandbox) -> None:
    settings = fast_settings(faults, "erp", max_response_bytes=64)
    async with ErpClient.from_settings(settings) as erp:
        with pytest.raises(BackendResponseTooLarge):
            await erp.order(ORDER)


@pytest.mark.parametrize("status", [301, 302, 307])
async def test_a_redirect_is_reported_as_one_and_not_followed(faults: Sandbox, status: int) -> None:
    await faults.aset_faults("erp", redirect_status=status)
    async with ErpClient.from_settings(fast_settings(faults, "erp")) as erp:
        with pytest.raises(BackendRedirected) as raised:
            await erp.order(ORDER)
        attempts = erp.backend.requests_sent
    assert raised.value.status_code == status
    assert attempts == 1, "a redirect is neither followed nor retried"
    message = raised.value.public_message
    assert f"redirect ({status})" in message and "unreadable" not in message
    assert "_moved" not in message and "127.0.0.1" not in message


async def test_the_erps_own_redirect_for_an_id_with_a_slash_is_reported_as_one(
    faults: Sandbox,
) -> None:
    async with ErpClient.from_settings(fast_settings(faults, "erp")) as erp:
        with pytest.raises(BackendRedirected) as raised:
            await erp.invoice("/")
    assert 300 <= raised.value.status_code < 400


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[AsyncEngine]:
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'abuse.sqlite3'}"
    engine = open_engine(url)
    await create_tables(engine)
    yield engine
    await engine.dispose()


async def test_identical_deliveries_at_once_record_each_milestone_once(
    faults: Sandbox, engine: AsyncEngine
) -> None:
    """A carrier's feed delivered 10 times at the same moment: no error, every event once."""
    async with RoadLineClient.from_settings(fast_settings(faults, "roadline")) as roadline:
        batch = await roadline.status_updates(limit=20)
    milestones = batch.milestones
    assert milestones, "the seeded feed has status rows"
    history = SqlMilestoneStore(engine)
    log = SqlEventLog(engine)
    recorder = MilestoneRecorder(event_log=log)
    start = time.perf_counter()
    outcomes = await asyncio.gather(*(recorder.record(milestones) for _ in range(10)))
    took = time.perf_counter() - start
    print(f"\n10 identical deliveries of {len(milestones)} milestones at once "
          f"({engine.dialect.name}): {took:.2f} s, no error")  # fmt: skip
    assert sum(len(outcome.recorded) for outcome in outcomes) == len(milestones)
    assert sum(outcome.duplicates for outcome in outcomes) == 9 * len(milestones)
    projection = MilestoneHistoryProjection(history)
    ours = {m.event_id for m in milestones}
    logged = [e for e in await whole_log(log) if e.envelope.event_id in ours]  # the database
    await asyncio.gather(*(projection.apply(logged) for _ in range(3)))  # is shared: ours only
    for tracking_number in {m.tracking_number for m in milestones}:
        stored = [m.event_id for m in await history.history(tracking_number)]
        assert len(stored) == len(set(stored)), f"{tracking_number} has a milestone twice"
    read_again = [e.envelope.event_id for e in await whole_log(SqlEventLog(engine))]
    assert sorted(i for i in read_again if i in ours) == sorted(ours), "the log has each once"


async def whole_log(log: SqlEventLog) -> list[StoredEvent]:
    events: list[StoredEvent] = []
    while page := await log.read(after=events[-1].position if events else 0, limit=1000):
        events.extend(page)
    return events
