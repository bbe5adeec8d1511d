"""Every fault type is observable over HTTP, and none of them touches `/_admin`."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.sandbox_processes import Sandbox

pytestmark = pytest.mark.sandbox


def _tasks_url(sandbox: Sandbox) -> str:
    return f"{sandbox.wms}/v2/tasks/T-200001"


async def test_latency_delays_api_calls_but_not_admin(clean_faults: Sandbox) -> None:
    await clean_faults.aset_faults("wms", latency_ms=300)
    async with httpx.AsyncClient(headers=clean_faults.headers("wms")) as client:
        started = time.perf_counter()
        response = await client.get(_tasks_url(clean_faults))
        api_seconds = time.perf_counter() - started
        started = time.perf_counter()
        await client.get(f"{clean_faults.wms}/_admin/health")
        admin_seconds = time.perf_counter() - started
    assert response.status_code == 200
    assert api_seconds >= 0.3, f"API answered in {api_seconds:.3f}s"
    assert admin_seconds < 0.25, f"admin answered in {admin_seconds:.3f}s"


async def test_write_latency_applies_a_write_at_once_and_answers_it_late(
    clean_faults: Sandbox,
) -> None:
    """The caller times out, yet the change is made: the case idempotency keys exist for."""
    await clean_faults.aset_faults("wms", write_latency_ms=2500)
    body = {"warehouse": "WH-AMS", "bin": "Z-99-99", "sku": "MAT-0001", "delta": 2,
            "reason": "FOUND"}  # fmt: skip
    headers = {**clean_faults.headers("wms"), "Idempotency-Key": f"late-{time.time_ns()}"}
    async with httpx.AsyncClient(headers=clean_faults.headers("wms")) as client:
        before = await client.get(f"{clean_faults.wms}/v2/inventory", params={"bin": "Z-99-99"})
        with pytest.raises(httpx.ReadTimeout):
            await client.post(
                f"{clean_faults.wms}/v2/adjustments", json=body, headers=headers, timeout=1.0
            )
        await clean_faults.areset_faults("wms")
        after = await client.get(f"{clean_faults.wms}/v2/inventory", params={"bin": "Z-99-99"})
    on_hand = [p["on_hand"] for p in before.json()["data"] if p["sku"] == "MAT-0001"] or [0]
    assert [p["on_hand"] for p in after.json()["data"] if p["sku"] == "MAT-0001"] == [
        on_hand[0] + 2
    ]


async def test_error_rate_one_half_fails_every_second_call(clean_faults: Sandbox) -> None:
    await clean_faults.aset_faults("tms", error_rate=0.5, error_status=502)
    async with httpx.AsyncClient(headers=clean_faults.headers("tms")) as client:
        statuses = [
            (await client.get(f"{clean_faults.tms}/bookings/BK-300001")).status_code
            for _ in range(6)
        ]
    assert statuses == [200, 502, 200, 502, 200, 502]


async def test_error_rate_one_fails_every_call(clean_faults: Sandbox) -> None:
    await clean_faults.aset_faults("swiftparcel", error_rate=1.0)
    async with httpx.AsyncClient(headers=clean_faults.headers("swiftparcel")) as client:
        statuses = {
            (await client.get(f"{clean_faults.swiftparcel}/v1/track/SP0000000000")).status_code
            for _ in range(4)
        }
    assert statuses == {500}


async def test_throttle_answers_429_with_retry_after(clean_faults: Sandbox) -> None:
    await clean_faults.aset_faults("wms", throttle_rps=2)
    async with httpx.AsyncClient(headers=clean_faults.headers("wms")) as client:
        responses = await asyncio.gather(*(client.get(_tasks_url(clean_faults)) for _ in range(6)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 200, 429, 429, 429, 429]
    throttled = next(r for r in responses if r.status_code == 429)
    assert int(throttled.headers["retry-after"]) >= 1


async def test_outage_answers_503_without_retry_after(clean_faults: Sandbox) -> None:
    await clean_faults.aset_faults("roadline", outage=True)
    async with httpx.AsyncClient() as client:
        response = await client.get(
            f"{clean_faults.roadline}/api/status-updates", params=clean_faults.params("roadline")
        )
        health = await client.get(f"{clean_faults.roadline}/_admin/health")
    assert response.status_code == 503
    assert "retry-after" not in response.headers
    assert health.status_code == 200


async def test_reset_restores_a_healthy_backend(clean_faults: Sandbox) -> None:
    await clean_faults.aset_faults("heritage", outage=True, latency_ms=50)
    await clean_faults.areset_faults("heritage")
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{clean_faults.heritage}/edi/outbox", params={"limit": 1})
        settings = (await client.get(f"{clean_faults.heritage}/_admin/faults")).json()
    assert response.status_code == 200
    assert settings == {
        "latency_ms": 0, "write_latency_ms": 0, "error_rate": 0.0, "error_status": 500,
        "throttle_rps": None, "outage": False, "maintenance": False, "duplicate_rate": 0.0,
        "out_of_order": False, "trickle_ms": 0, "huge_body_bytes": 0, "redirect_status": None,
    }  # fmt: skip


async def test_invalid_fault_settings_are_rejected(clean_faults: Sandbox) -> None:
    async with httpx.AsyncClient() as client:
        maintenance = await client.put(
            f"{clean_faults.wms}/_admin/faults", json={"maintenance": True}
        )
        unknown = await client.put(f"{clean_faults.tms}/_admin/faults", json={"chaos": 1})
        out_of_range = await client.put(f"{clean_faults.tms}/_admin/faults", json={"error_rate": 2})
    assert [maintenance.status_code, unknown.status_code, out_of_range.status_code] == [422] * 3
    assert maintenance.json()["details"][0]["field"] == "maintenance"
