"""What the backends push, received over HTTP and read by the inbound parsers: signatures the
real senders make verify, duplicates keep their event id, out-of-order events do not move a
shipment backwards, and a wrong secret is refused."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from domain import EventEnvelope, Milestone, MilestoneStatus, current_milestone, merge_history
from system_apis import TmsClient, WmsClient
from system_apis.wms.models import TaskState, TaskType
from tests.sandbox_processes import Sandbox
from tests.system_apis.conftest import Ingress, fast_settings

pytestmark = pytest.mark.sandbox


@pytest.fixture
async def hooks(ingress: Ingress, clean_faults: Sandbox) -> AsyncIterator[Ingress]:
    ingress.reset()
    for name in ("wms", "swiftparcel", "heritage"):
        await clean_faults.aset_webhook(name, ingress.url(name), ingress.secrets[name])
    yield ingress
    for name in ("wms", "swiftparcel", "heritage"):
        await clean_faults.aset_webhook(name, None)


async def tracking_numbers(sandbox: Sandbox, carrier: str, count: int) -> list[str]:
    found: list[str] = []
    async with TmsClient.from_settings(fast_settings(sandbox, "tms")) as tms:
        for n in range(300, 0, -1):
            for booking in await tms.bookings_for_order(f"SO-{100000 + n}"):
                if booking.shipment.carrier == carrier and booking.shipment.tracking_number:
                    found.append(booking.shipment.tracking_number)
            if len(found) >= count:
                break
    return found


async def test_wms_task_completion_arrives_signed_and_duplicates_keep_their_id(
    hooks: Ingress, clean_faults: Sandbox
) -> None:
    await clean_faults.aset_faults("wms", duplicate_rate=1.0)
    async with WmsClient.from_settings(fast_settings(clean_faults, "wms")) as wms:
        task = None
        for n in range(300, 0, -1):
            tasks = await wms.tasks_for_order(f"SO-{100000 + n}")
            task = next((t for t in tasks if t.state is TaskState.OPEN), None)
            if task:
                break
        assert task is not None
        await wms.confirm_task(
            task.task_id, quantity=task.quantity, operator="op", idempotency_key=uuid.uuid4().hex
        )
    # a pick also pushes the position it changed (twice too): four deliveries then
    expected = 4 if task.task_type is TaskType.PICK else 2
    events: list[EventEnvelope] = await hooks.wait_for("wms", expected)
    completed = [e for e in events if e.event_type == "task.completed"]
    assert len(completed) == 2, [e.event_type for e in events]
    assert completed[0].event_id == completed[1].event_id
    assert completed[0].aggregate_id == task.task_id
    assert completed[0].payload["state"] == "DONE"
    assert not hooks.refused and not hooks.dead_letters


async def test_swiftparcel_late_and_duplicate_events_never_move_a_shipment_backwards(
    hooks: Ingress, clean_faults: Sandbox
) -> None:
    (tracking,) = await tracking_numbers(clean_faults, "SWFT", 1)
    now = datetime.now(UTC).replace(microsecond=0)
    await clean_faults.aset_faults("swiftparcel", duplicate_rate=1.0)
    for code, age in (("DL", timedelta(0)), ("IT", timedelta(hours=3)), ("OD", timedelta(hours=1))):
        await clean_faults.aemit("swiftparcel", tracking, code, (now - age).isoformat())
    received: list[Milestone] = await hooks.wait_for("swiftparcel", 6)
    mine = [m for m in received if m.tracking_number == tracking]
    assert [m.carrier_code for m in mine] == ["DL", "DL", "IT", "IT", "OD", "OD"]
    history = merge_history(mine)
    assert [m.carrier_code for m in history] == ["IT", "OD", "DL"]
    current = current_milestone(mine)
    assert current is not None and current.status is MilestoneStatus.DELIVERED


async def test_heritage_pushes_x12_with_basic_auth_and_the_parser_reads_it(
    hooks: Ingress, clean_faults: Sandbox
) -> None:
    numbers = await tracking_numbers(clean_faults, "HRTG", 5)
    assert numbers, "the seed has Heritage shipments"
    for tracking in numbers:
        await clean_faults.aemit("heritage", tracking, "X6")
    milestones: list[Milestone] = await hooks.wait_for("heritage", len(numbers))
    assert {m.tracking_number for m in milestones} == set(numbers)
    assert all(m.status is MilestoneStatus.IN_TRANSIT for m in milestones)
    assert all(abs(m.occurred_at - datetime.now(UTC)) < timedelta(minutes=5) for m in milestones)


async def test_a_push_with_the_wrong_secret_is_refused_and_nothing_is_kept(
    hooks: Ingress, clean_faults: Sandbox
) -> None:
    (tracking,) = await tracking_numbers(clean_faults, "SWFT", 1)
    await clean_faults.aset_webhook("swiftparcel", hooks.url("swiftparcel"), "not-the-secret")
    await clean_faults.aemit("swiftparcel", tracking, "IT")
    deadline = datetime.now(UTC) + timedelta(seconds=5)
    while hooks.refused.get("swiftparcel", 0) < 1 and datetime.now(UTC) < deadline:
        await asyncio.sleep(0.02)
    assert hooks.refused["swiftparcel"] >= 1
    assert "swiftparcel" not in hooks.accepted
