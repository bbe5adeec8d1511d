"""Each tenant's share of a backend, against the reference ERP (20 requests a second for its
key, then 429): a tenant's flood waits its turns and its excess fails as throttled, while
another tenant's calls, and the gateway's own, keep being answered."""

from __future__ import annotations

import asyncio
import collections

import pytest

from system_apis import BackendThrottled, ErpClient
from system_apis.context import tenant_scope
from system_apis.settings import BackendSettings
from tests.sandbox_processes import Sandbox
from tests.system_apis.conftest import fast_settings

pytestmark = pytest.mark.sandbox


async def customer_reads(erp: ErpClient, tenant: str | None, count: int) -> list[str]:
    outcomes = []
    for _ in range(count):
        try:
            if tenant is None:
                await erp.customer("C-1002")
            else:
                with tenant_scope(tenant):
                    await erp.customer(tenant)
            outcomes.append("ok")
        except BackendThrottled:
            outcomes.append("throttled")
        await asyncio.sleep(0.05)
    return outcomes


async def flood(erp: ErpClient, count: int, concurrency: int) -> collections.Counter[str]:
    outcomes: collections.Counter[str] = collections.Counter()
    remaining = iter(range(count))

    async def one() -> None:
        with tenant_scope("C-1001"):
            for _ in remaining:
                try:
                    await erp.customer("C-1001")
                    outcomes["ok"] += 1
                except BackendThrottled:
                    outcomes["throttled"] += 1

    await asyncio.gather(*(one() for _ in range(concurrency)))
    return outcomes


async def test_a_flooding_tenant_waits_its_turn_and_others_are_served(
    sandbox: Sandbox, clean_faults: Sandbox
) -> None:
    settings = fast_settings(
        sandbox, "erp", max_requests_per_s=18, tenant_max_concurrency=4, max_concurrency=16
    )
    async with ErpClient.from_settings(settings) as erp:
        await asyncio.sleep(1.1)  # the ERP's window holds no earlier test's calls
        flooding = asyncio.create_task(flood(erp, 150, 20))
        await asyncio.sleep(0.2)
        other, own = await asyncio.gather(
            customer_reads(erp, "C-1002", 15), customer_reads(erp, None, 5)
        )
        flooded = await flooding
        assert erp.backend.fair_share.in_flight("C-1001") == 0, "every slot given back"
    assert other == ["ok"] * 15, other
    assert own == ["ok"] * 5, "the gateway's own calls (no tenant) take turns too"
    assert flooded["ok"] > 0 and flooded["throttled"] > 0, flooded
    assert erp.backend.fair_share.throttled == flooded["throttled"]


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"tenant_max_concurrency": 0}, "tenant_max_concurrency must be at least 1"),
        ({"max_requests_per_s": -1}, "max_requests_per_s must not be negative"),
    ],
)
def test_bad_shares_are_refused(overrides: dict[str, int], problem: str) -> None:
    with pytest.raises(ValueError) as raised:
        BackendSettings(name="erp", url="http://erp.test", **overrides)  # type: ignore[arg-type]
    assert problem in str(raised.value)
