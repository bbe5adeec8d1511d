"""Each fault class injected into a real reference backend, and what the client does about it.

Times are test-sized (timeouts of a few hundred milliseconds, a 0.2 s breaker reset); the
assertions allow generous slack for a loaded machine but still tell waiting from failing fast.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from domain import Order, OrderStatus
from system_apis import (
    BackendClient,
    BackendThrottled,
    BackendTimeout,
    BackendUnavailable,
    BreakerState,
    CircuitBreaker,
    CircuitOpen,
    ErpClient,
    RoadLineClient,
    TmsClient,
    WmsClient,
)
from tests.sandbox_processes import Sandbox
from tests.system_apis.conftest import fast_settings

pytestmark = pytest.mark.sandbox


@pytest.fixture
def faults(clean_faults: Sandbox) -> Iterator[Sandbox]:
    """The sandbox with no faults before the test and none left after it."""
    yield clean_faults


def elapsed_since(start: float) -> float:
    return time.perf_counter() - start


async def test_latency_beyond_the_timeout_is_a_backend_timeout(faults: Sandbox) -> None:
    faults.set_faults("wms", latency_ms=600)
    settings = fast_settings(faults, "wms", timeout_s=0.15, max_retries=1)
    async with WmsClient.from_settings(settings) as wms:
        start = time.perf_counter()
        with pytest.raises(BackendTimeout) as raised:
            await wms.task("T-200001")
        took = elapsed_since(start)
        assert raised.value.backend == "wms" and raised.value.operation == "get task"
        assert wms.backend.requests_sent == 2, "a read that timed out is tried once more"
        assert 0.3 <= took < 0.6, f"two 0.15 s attempts took {took:.3f} s"


async def test_5xx_burst_on_reads_is_retried_and_recovers(faults: Sandbox) -> None:
    first_read = await read_order_once(faults)
    faults.set_faults("erp", error_rate=1.0, error_status=503)  # a burst: every call fails
    settings = fast_settings(faults, "erp")
    async with ErpClient.from_settings(settings) as erp:
        with pytest.raises(BackendUnavailable):
            await erp.order("SO-100001")
        assert erp.backend.requests_sent == 1 + settings.max_retries, "the read was retried"
        faults.reset_faults("erp")
        assert await erp.order("SO-100001") == first_read, "the burst over, reads recover"
        assert erp.backend.breaker.snapshot().total_failures >= 1


async def read_order_once(faults: Sandbox) -> Order:
    async with ErpClient.from_settings(fast_settings(faults, "erp")) as erp:
        return await erp.order("SO-100001")


async def find_shipped_order(erp: ErpClient) -> str:
    page = await erp.customers_page(limit=100)
    for customer in reversed(page.items):
        found = await erp.orders_page(customer.customer_id, status=OrderStatus.SHIPPED)
        if found.items:
            return found.items[-1].order_id
    raise AssertionError("the seed has shipped orders")


async def test_5xx_on_a_write_is_retried_only_when_it_carries_an_idempotency_key(
    faults: Sandbox,
) -> None:
    settings = fast_settings(faults, "erp")
    async with ErpClient.from_settings(settings) as erp:
        order_id = await find_shipped_order(erp)
        faults.set_faults("erp", error_rate=1.0)
        bare = BackendClient(settings, headers={"X-ERP-Key": settings.credential})
        async with bare:
            with pytest.raises(BackendUnavailable) as raised:
                await bare.send_json(
                    "POST", "/api/v1/sales-orders", operation="create order", json={}
                )
            assert raised.value.status_code == 500
            assert bare.requests_sent == 1, "a write without a key is sent exactly once"

        # Every call fails (other gateways' pollers call this ERP too, so no alternating
        # pattern is ours alone): the keyed write is tried once plus each retry.
        sent_before = erp.backend.requests_sent
        with pytest.raises(BackendUnavailable):
            await erp.create_invoice(order_id, idempotency_key=f"inv-{order_id}")
        attempts = erp.backend.requests_sent - sent_before
        assert attempts == 1 + settings.max_retries >= 2, "a keyed write is retried"
        faults.reset_faults("erp")
        invoice = await erp.create_invoice(order_id, idempotency_key=f"inv-{order_id}")
        assert (await erp.invoices_for_order(order_id)) == (invoice,)


async def test_429_with_retry_after_is_waited_then_retried(faults: Sandbox) -> None:
    faults.set_faults("tms", throttle_rps=1)
    async with TmsClient.from_settings(fast_settings(faults, "tms")) as tms:
        await tms.booking("BK-300001")
        start = time.perf_counter()
        await tms.booking("BK-300001")  # throttled: Retry-After 1, then admitted
        waited = elapsed_since(start)
        assert tms.backend.requests_sent == 3
        assert 0.9 <= waited < 1.8, f"Retry-After: 1 was honoured as {waited:.3f} s"


async def test_429_with_retry_after_beyond_the_cap_fails_throttled_at_once(
    faults: Sandbox,
) -> None:
    faults.set_faults("tms", throttle_rps=1)
    settings = fast_settings(faults, "tms", retry_after_max_s=0.5)
    async with TmsClient.from_settings(settings) as tms:
        await tms.booking("BK-300001")
        start = time.perf_counter()
        with pytest.raises(BackendThrottled) as raised:
            await tms.booking("BK-300001")
        took = elapsed_since(start)
        assert raised.value.retry_after == 1.0
        assert took < 0.3, f"failed as throttled in {took:.3f} s without waiting"
        assert tms.backend.requests_sent == 2


async def test_erp_maintenance_is_unavailable_with_the_erps_retry_after(faults: Sandbox) -> None:
    faults.set_faults("erp", maintenance=True)
    async with ErpClient.from_settings(fast_settings(faults, "erp")) as erp:
        with pytest.raises(BackendUnavailable) as raised:
            await erp.order("SO-100001")
        error = raised.value
        assert (error.status_code, error.retry_after) == (503, 30.0)
        assert error.public_message == "erp is down for maintenance (get order)"
        assert erp.backend.requests_sent == 1, "30 s is beyond the cap: not waited for"


async def test_outage_opens_the_breaker_which_fails_fast_then_half_opens_and_recovers(
    faults: Sandbox,
) -> None:
    transitions: list[BreakerState] = []
    settings = fast_settings(
        faults, "roadline", max_retries=0, breaker_failure_threshold=3, breaker_reset_s=0.2
    )
    now = [0.0]  # the breaker's clock, moved by hand so a loaded machine cannot skip a window
    breaker = CircuitBreaker(
        "roadline",
        failure_threshold=3,
        reset_s=0.2,
        clock=lambda: now[0],
        on_transition=lambda _name, _old, new: transitions.append(new),
    )
    backend = BackendClient(settings, params={"apikey": settings.credential}, breaker=breaker)
    async with RoadLineClient(backend) as roadline:
        faults.set_faults("roadline", outage=True)
        for _ in range(3):
            with pytest.raises(BackendUnavailable) as raised:
                await roadline.status_updates(limit=1)
            assert raised.value.status_code == 503
        assert breaker.state is BreakerState.OPEN
        with pytest.raises(CircuitOpen):
            await roadline.status_updates(limit=1)
        assert backend.requests_sent == 3, "an open breaker sends nothing"

        now[0] += 0.25
        assert breaker.state is BreakerState.HALF_OPEN
        with pytest.raises(BackendUnavailable):  # the trial meets the outage: open again
            await roadline.status_updates(limit=1)
        assert breaker.state is BreakerState.OPEN and backend.requests_sent == 4

        faults.reset_faults("roadline")
        with pytest.raises(CircuitOpen):  # lifted, but the breaker waits out its reset time
            await roadline.status_updates(limit=1)
        now[0] += 0.25
        batch = await roadline.status_updates(limit=1)
        assert batch.milestones
        assert breaker.state is BreakerState.CLOSED
        assert transitions == [
            BreakerState.OPEN,
            BreakerState.HALF_OPEN,
            BreakerState.OPEN,
            BreakerState.HALF_OPEN,
            BreakerState.CLOSED,
        ]
        snapshot = breaker.snapshot()
        assert (snapshot.opened_count, snapshot.rejected_calls) == (2, 2)


async def test_concurrency_bound_turns_away_callers_beyond_it(faults: Sandbox) -> None:
    faults.set_faults("tms", latency_ms=300)
    settings = fast_settings(faults, "tms", max_concurrency=2, concurrency_wait_s=0.05)
    async with TmsClient.from_settings(settings) as tms:
        results = await asyncio.gather(
            *(tms.booking("BK-300001") for _ in range(5)), return_exceptions=True
        )
        refused = [r for r in results if isinstance(r, BackendUnavailable)]
        assert len(refused) == 3 and len(results) - len(refused) == 2
        assert all("too many concurrent calls" in r.public_message for r in refused)
        assert tms.backend.requests_sent == 2
        assert tms.backend.breaker.state is BreakerState.CLOSED


async def test_concurrency_bound_queues_callers_that_can_wait(faults: Sandbox) -> None:
    faults.set_faults("tms", latency_ms=200)
    settings = fast_settings(faults, "tms", max_concurrency=2, concurrency_wait_s=2.0)
    async with TmsClient.from_settings(settings) as tms:
        start = time.perf_counter()
        peak = 0

        async def call() -> None:
            nonlocal peak
            task = asyncio.ensure_future(tms.booking("BK-300001"))
            while not task.done():
                peak = max(peak, tms.backend.bulkhead.in_flight)
                await asyncio.sleep(0.01)
            await task

        await asyncio.gather(*(call() for _ in range(5)))
        took = elapsed_since(start)
        assert peak == 2
        assert took >= 0.55, f"five 0.2 s calls two at a time took {took:.3f} s"
