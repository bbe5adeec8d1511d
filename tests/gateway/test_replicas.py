"""Replicas that act as one: three gateway processes (the third of them `run --workers 2`)
share one PostgreSQL database, one Redis and one NATS JetStream stream in front of the
reference backends, as a deployment behind a load balancer does.

- a webhook accepted by one replica reaches a subscriber connected to another, once;
- a client's rate limit is spent across the replicas together;
- an idempotent mutation retried against another replica gets the first answer;
- an answer cached by two replicas is purged on both by a delivery told to a third;
- a workflow whose replica is killed mid-step is finished by another, each step once;
- killing a replica during a burst of webhooks loses and doubles nothing acknowledged.

The processes start once for the module; the last two tests kill replicas, so they run last.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from stores.jetstream import JetStreamEventLog
from stores.leases import LEASES
from stores.sql import open_engine
from system_apis.milestones import carrier_event_id
from tests.conftest import fresh_postgres_database
from tests.gateway.conftest import (
    READ_MODEL_WAIT_S,
    RunningGateway,
    gateway_process,
    wait_for_orders,
    write_config,
)
from tests.gateway.test_end_to_end import (
    first_order_with_carrier,
    post_webhook,
    swift_body,
    swift_signature,
)
from tests.gateway.test_live_over_websocket import listening, opened, receive, subscribe
from tests.gateway.test_response_cache_processes import SHIPMENT, post
from tests.gateway.test_warehouse_processes import (
    confirm_pick,
    confirmations_received,
    on_hand,
    stocked_open_pick,
)
from tests.gateway.test_workers import children, cmdline
from tests.gateway.test_workflow_kill import on_hand as bin_on_hand
from tests.gateway.test_workflow_kill import step, wait_until, wms_task
from tests.sandbox_processes import Sandbox, free_port
from tests.shipped_orders import _erp, shipped_order

TIGHT_KEY = "key-of-a-partner-on-a-tight-plan"
EXTRA = f"""
[cache]
enabled = true
types = {{ Shipment = 600 }}

[throttling]
enabled = true

[plans.standard]
rate_limits = ["100000/minute"]

[plans.basic]
rate_limits = ["100000/minute"]

[plans.tight]
rate_limits = ["5/minute"]

[clients.partner-tight]
tenant = "C-1002"
api_key_sha256 = "{hashlib.sha256(TIGHT_KEY.encode()).hexdigest()}"
plan = "tight"

[idempotency]
wait_s = 0.2

[workflows]
enabled = true
retry_initial_s = 0.2
retry_max_s = 1.0
poll_s = 0.1
lease_ttl_s = 3.0
since = {{since}}
"""
"""What the replicas share; `since` (set at start) keeps the orders other tests of the session
released before from starting workflows here."""
BURST = 60
BURST_CONCURRENCY = 6


@dataclass(frozen=True)
class Deployment:
    replicas: tuple[RunningGateway, ...]
    database: str
    nats_url: str
    stream: str
    prefix: str


@pytest.fixture(scope="module")
def deployment(
    sandbox: Sandbox, redis_url: str, nats_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    name = f"replicas{uuid.uuid4().hex[:8]}"
    since = datetime.now(UTC).replace(microsecond=0).isoformat()
    with fresh_postgres_database() as database, ExitStack() as stack:
        stores = (
            f'database_url = "{database}"\nevent_log = "{nats_url}"\n'
            f'event_stream = "{name}"\nevent_subject_prefix = "{name}"\n'
            f'cache = "{redis_url}"\ncache_namespace = "{name}"'
        )
        started = []
        with pytest.MonkeyPatch.context() as patch:
            patch.delenv("LG_THROTTLING__ENABLED", raising=False)
            for replica, arguments in (("a", ()), ("b", ()), ("c", ("--workers", "2"))):
                directory = tmp_path_factory.mktemp(f"replica-{replica}")
                port = free_port()
                config = directory / "gateway.toml"
                write_config(
                    config,
                    sandbox,
                    port,
                    directory / "unused.sqlite3",
                    stores=stores,
                    extra=EXTRA.replace("{since}", since),
                    backend_timeout_s=10.0,
                    lease_ttl_s=3.0,
                )
                started.append(gateway_process(config, port, arguments))
            running = enter_together(stack, started)
        wait_for_orders(running[0].graphql_url(), running[0].api_key("C-1001"))
        yield Deployment(tuple(running), database, nats_url, name, name)


def enter_together(
    stack: ExitStack, processes: list[AbstractContextManager[RunningGateway]]
) -> list[RunningGateway]:
    """Start the processes at once (each waits until healthy in a thread of its own), so the
    module waits for the slowest start rather than for their sum."""
    with ThreadPoolExecutor(len(processes)) as pool:
        futures = [pool.submit(process.__enter__) for process in processes]
    entered = []
    for process, future in zip(processes, futures, strict=True):
        if future.exception() is None:
            stack.push(process.__exit__)
            entered.append(future.result())
    for future in futures:
        if (error := future.exception()) is not None:
            raise error
    return entered


def alive(deployment: Deployment) -> list[RunningGateway]:
    return [r for r in deployment.replicas if r.process is not None and r.process.poll() is None]


def test_the_replica_run_with_two_workers_serves_from_two_processes(deployment):
    replica = deployment.replicas[2]
    assert replica.process is not None
    workers = [pid for pid in children(replica.process.pid) if b"spawn_main" in cmdline(pid)]
    assert len(workers) == 2, f"two workers under the supervisor: {workers}"
    with httpx.Client(timeout=10.0) as client:
        for _ in range(6):  # new connections, accepted by whichever worker is free
            client.headers["connection"] = "close"
            assert client.get(f"{replica.url}/health").status_code == 200


async def test_a_webhook_accepted_by_one_replica_reaches_a_subscriber_of_another_once(
    deployment, sandbox
):
    sender, listener = deployment.replicas[0], deployment.replicas[1]
    found = await first_order_with_carrier(
        listener, "C-1001", "SWFT", delivered=True, sandbox=sandbox
    )
    tracking = found["tracking"]
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=40)
    socket = await opened(listener, "C-1001")
    try:
        await subscribe(socket, tracking)
        await listening(listener, socket, tracking, start)
        event_id = f"replica-{uuid.uuid4().hex[:10]}"
        body = swift_body(tracking, "IT", start + timedelta(hours=1), event_id)
        headers = {"X-Swift-Signature": swift_signature(body), "content-type": "application/json"}
        accepted = await post_webhook(sender, "swiftparcel", body, headers)
        assert accepted.status_code == 202, accepted.text
        seen: list[str] = []
        deadline = time.monotonic() + 15.0
        while time.monotonic() < deadline:
            try:
                message = await receive(socket, 3.0)
            except TimeoutError:
                if seen:
                    break
                continue
            assert message["type"] == "next", message
            update = message["payload"]["data"]["shipmentUpdated"]
            if update["milestone"]["carrierCode"] == "IT":
                seen.append(update["eventId"])
        assert len(seen) == 1, f"the event reached the other replica's subscriber once: {seen}"
    finally:
        await socket.close()


def test_a_rate_limit_is_spent_across_the_replicas_together(deployment):
    statuses = []
    with httpx.Client(timeout=10.0) as client:
        for number in range(8):
            replica = deployment.replicas[number % 3]
            answer = client.post(
                replica.graphql_url(),
                json={"query": "{ __typename }"},
                headers={"X-API-Key": TIGHT_KEY},
            )
            statuses.append(answer.status_code)
    assert statuses == [200] * 5 + [429] * 3, f"5 a minute over all replicas: {statuses}"


async def test_an_idempotent_mutation_retried_against_another_replica_gets_the_first_answer(
    deployment, sandbox
):
    first, other = deployment.replicas[0], deployment.replicas[2]
    task = await stocked_open_pick(sandbox)
    before = await on_hand(sandbox, task)
    await sandbox.aclear_requests("wms")
    key = f"replicas-{uuid.uuid4()}"
    answer = await confirm_pick(first, task["task_id"], key)
    assert answer["data"]["confirmPick"]["__typename"] == "PickConfirmed", answer
    for replica in (other, deployment.replicas[1]):
        assert await confirm_pick(replica, task["task_id"], key) == answer
    assert await confirmations_received(sandbox, task["task_id"]) == 1
    assert await on_hand(sandbox, task) == before - task["qty"]


async def test_an_answer_cached_by_two_replicas_is_purged_on_both_by_a_delivery_to_a_third(
    deployment, sandbox
):
    a, b, c = deployment.replicas
    found = await first_order_with_carrier(a, "C-1001", "SWFT", delivered=True, sandbox=sandbox)
    tracking = found["tracking"]
    before = post(a, SHIPMENT, t=tracking)["data"]["shipment"]["milestones"]
    assert post(c, SHIPMENT, t=tracking)["data"]["shipment"]["milestones"] == before
    body = swift_body(tracking, "DL", datetime.now(UTC), f"purge-{uuid.uuid4().hex}")
    headers = {"X-Swift-Signature": swift_signature(body), "content-type": "application/json"}
    assert (await post_webhook(b, "swiftparcel", body, headers)).status_code == 202
    deadline = time.monotonic() + READ_MODEL_WAIT_S  # far within the 600 s it may be kept
    for replica in (a, c):
        while len(post(replica, SHIPMENT, t=tracking)["data"]["shipment"]["milestones"]) == len(
            before
        ):
            assert time.monotonic() < deadline, f"{replica.url} still serves the purged answer"
            await asyncio.sleep(0.2)


async def runner_holder_pid(deployment: Deployment) -> int | None:
    engine = open_engine(deployment.database)
    try:
        async with engine.connect() as connection:
            holder = (
                await connection.execute(
                    select(LEASES.c.holder).where(LEASES.c.name == "workflows:runner")
                )
            ).scalar_one_or_none()
    finally:
        await engine.dispose()
    return None if holder is None else int(holder.split(":")[1])


def test_a_workflow_whose_replica_is_killed_mid_step_is_finished_by_another_once(
    deployment, sandbox, clean_faults
):
    sandbox.set_faults("wms", write_latency_ms=4000)  # before the replicas hear of the order
    order = asyncio.run(shipped_order(sandbox, "C-1001", [("MAT-0001", 3)], shipped=False))
    doc_no = order["doc_no"]
    workflow_id = f"order-to-ship.{doc_no}"
    observer = deployment.replicas[1]
    started = httpx.post(
        f"{observer.url}/admin/workflows",
        json={"kind": "order-to-ship", "subject": doc_no},
        headers={"X-API-Key": observer.api_key("ops")},
        timeout=10.0,
    )
    assert started.status_code in (200, 201), started.text  # 200: the order feed started it
    picking = asyncio.run(
        wait_until(
            observer, workflow_id, lambda v: (step(v, "pick") or {}).get("state") == "STARTED"
        )
    )
    release = step(picking, "release_to_warehouse")["result"]
    pick_task = next(t for t in release["tasks"] if t["type"] == "PICK")
    deadline = time.monotonic() + 10
    while wms_task(sandbox, pick_task["task_id"])["state"] != "done":
        assert time.monotonic() < deadline, "the WMS never applied the pick"
        time.sleep(0.05)
    task = wms_task(sandbox, pick_task["task_id"])
    picked = asyncio.run(bin_on_hand(sandbox, task["warehouse"], task["bin"]))
    holder = asyncio.run(runner_holder_pid(deployment))
    assert holder is not None, "a replica runs the workflows"
    os.kill(holder, signal.SIGKILL)  # the replica (or worker) running the step dies
    for replica in deployment.replicas:  # reaped, so `alive` no longer counts it
        if replica.process is not None and replica.process.pid == holder:
            replica.process.wait(timeout=10)
    sandbox.reset_faults("wms")
    done = asyncio.run(
        wait_until(
            alive(deployment)[0],
            workflow_id,
            lambda v: v["workflow"]["state"] in ("COMPLETED", "FAILED", "HELD"),
        )
    )
    assert done["workflow"]["state"] == "COMPLETED", done
    steps = {s["step"]: s for s in done["steps"]}
    # Another replica ran the interrupted step again under its key (more than once when the WMS
    # still held the first attempt, answering "in progress"); a step may be tried again after a
    # slow answer too, always under the same key: what counts is that each effect happened once.
    assert steps["pick"]["attempts"] >= 2, steps["pick"]
    assert all(s["state"] == "COMPLETED" for s in steps.values()), steps
    assert asyncio.run(bin_on_hand(sandbox, task["warehouse"], task["bin"])) == picked
    assert asyncio.run(runner_holder_pid(deployment)) != holder

    async def effects() -> tuple[list, list]:
        async with httpx.AsyncClient(timeout=10.0) as client:
            reservations = await _erp(
                client, sandbox, "GET", f"/api/v1/reservations?sales_doc={doc_no}"
            )
            bookings = await client.get(
                f"{sandbox.tms}/bookings",
                params={"order_ref": doc_no},
                headers=sandbox.headers("tms"),
            )
        return reservations["records"], bookings.json()["bookings"]

    reservations, bookings = asyncio.run(effects())
    assert [r["status"] for r in reservations] == ["CONSUMED"], "one reservation"
    assert len(bookings) == 1, "one booking"


async def test_killing_a_replica_during_a_burst_loses_and_doubles_nothing_acknowledged(
    deployment,
):
    targets = [r for r in alive(deployment) if r is not deployment.replicas[2]] or alive(deployment)
    survivors = [r for r in alive(deployment) if r not in targets[:1]]
    assert survivors, "a replica stays up to take the rest of the burst"
    victim = targets[0]
    tracking = f"SPBURST{uuid.uuid4().hex[:8]}"
    start = datetime.now(UTC).replace(microsecond=0)
    ids = [f"burst-{uuid.uuid4().hex[:10]}-{n}" for n in range(BURST)]
    acknowledged: list[str] = []
    turn = asyncio.Semaphore(BURST_CONCURRENCY)

    async def send(number: int, event_id: str) -> None:
        replica = (victim, *survivors)[number % (1 + len(survivors))]
        body = swift_body(tracking, "IT", start + timedelta(seconds=number), event_id)
        headers = {"X-Swift-Signature": swift_signature(body), "content-type": "application/json"}
        async with turn:
            if number == BURST // 3:
                assert victim.process is not None
                victim.process.send_signal(signal.SIGKILL)
            try:
                answer = await post_webhook(replica, "swiftparcel", body, headers)
            except httpx.TransportError:
                return  # not acknowledged: the sender would deliver it again
            if answer.status_code == 202:
                acknowledged.append(event_id)

    await asyncio.gather(*(send(number, event_id) for number, event_id in enumerate(ids)))
    assert victim.process is not None and victim.process.wait(timeout=10) == -signal.SIGKILL
    assert len(acknowledged) >= len(ids) // 2, f"the survivors kept answering: {acknowledged}"

    log = await JetStreamEventLog.connect(
        deployment.nats_url, stream=deployment.stream, subject_prefix=deployment.prefix
    )
    try:
        logged: Counter[str] = Counter()
        position = 0
        while page := await log.read(after=position, limit=500):
            position = page[-1].position
            logged.update(
                stored.envelope.event_id
                for stored in page
                if stored.envelope.aggregate_id == tracking
            )
    finally:
        await log.close()
    wanted = {carrier_event_id("SWFT", event_id): event_id for event_id in ids}
    missing = [e for e in acknowledged if logged[carrier_event_id("SWFT", e)] != 1]
    assert not missing, f"acknowledged and not in the log exactly once: {missing}"
    doubled = [wanted.get(event_id, event_id) for event_id, n in logged.items() if n > 1]
    assert not doubled, f"in the log twice: {doubled}"
