"""A gateway killed (SIGKILL) in the middle of a burst of carrier webhooks heals on restart:
every milestone it acknowledged (202) is in the milestone history exactly once.

Acceptance writes the event log only; the history is a projection that resumes at its kept
position. Runs a real `logistics-gateway run` process on the SQL event log and on JetStream.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import signal
import sqlite3
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import nats
import pytest

from tests.gateway.conftest import gateway_process
from tests.sandbox_processes import free_port
from tests.security.signed_webhooks import SECRETS, signed

BURST = 600
CONCURRENCY = 16
KILL_AFTER_ACKS = 200
HEAL_WAIT_S = 60.0


@pytest.fixture(params=["sql", "jetstream"])
def event_log(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """The engine's `[stores]` lines; a JetStream stream of its own, deleted afterwards."""
    if request.param == "sql":
        yield 'event_log = "sql"', ""
        return
    nats_url = request.getfixturevalue("nats_url")
    stream = f"KILL_{uuid.uuid4().hex[:10].upper()}"
    lines = (
        f'event_log = "{nats_url}"\nevent_stream = "{stream}"\n'
        f'event_subject_prefix = "kill.{stream.lower()}"'
    )
    yield lines, stream

    async def delete() -> None:
        client = await nats.connect(nats_url)
        try:
            await client.jetstream().delete_stream(stream)
        finally:
            await client.close()

    asyncio.run(delete())


def write_config(path: Path, port: int, database: Path, stores: str) -> None:
    path.write_text(
        f"""
[server]
host = "127.0.0.1"
port = {port}

[stores]
database_url = "sqlite+aiosqlite:///{database}"
{stores}

[polling]
enabled = false

[webhooks]
wms_secret = "{SECRETS["wms"]}"
swiftparcel_secret = "{SECRETS["swiftparcel"]}"
heritage_password = "{SECRETS["heritage"]}"
"""
    )


def swift_delivery(tracking: str, sequence: int) -> bytes:
    occurred = datetime(2026, 11, 20, 8, 0, tzinfo=UTC) + timedelta(minutes=sequence)
    event = {
        "id": f"kill-{tracking}-{sequence}",
        "code": "IT",
        "description": "In transit",
        "timestamp": occurred.isoformat(),
        "location": {"city": "Utrecht", "country": "NL"},
    }
    return json.dumps({"trackingNumber": tracking, "event": event}).encode()


def history_counts(database: Path, event_ids: set[str]) -> dict[str, int]:
    """How often each of `event_ids` is in the milestone history, read from the gateway's own
    database file (the projection's read model)."""
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT event_id, COUNT(*) FROM milestone_history GROUP BY event_id"
        ).fetchall()
    return {event_id: count for event_id, count in rows if event_id in event_ids}


async def burst(url: str, tracking: str, killed: asyncio.Event, kill) -> set[str]:  # type: ignore[no-untyped-def]
    """Deliver BURST webhooks, CONCURRENCY at a time, and kill the gateway after
    KILL_AFTER_ACKS acknowledgements; returns the event ids acknowledged with a 202."""
    acknowledged: set[str] = set()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for sequence in range(BURST):
        queue.put_nowait(sequence)

    async def deliver(client: httpx.AsyncClient) -> None:
        while not queue.empty() and not killed.is_set():
            sequence = queue.get_nowait()
            body = swift_delivery(tracking, sequence)
            try:
                answer = await client.post(
                    f"{url}/webhooks/swiftparcel",
                    content=body,
                    headers=signed("swiftparcel", body),
                )
            except httpx.HTTPError:
                continue  # the gateway died under this request: not acknowledged
            if answer.status_code == 202:
                acknowledged.add(f"SWFT:kill-{tracking}-{sequence}")
                if len(acknowledged) >= KILL_AFTER_ACKS and not killed.is_set():
                    kill()
                    killed.set()

    async with httpx.AsyncClient(timeout=10.0) as client:
        await asyncio.gather(*(deliver(client) for _ in range(CONCURRENCY)))
    return acknowledged


async def test_a_gateway_killed_during_a_burst_of_webhooks_heals_on_restart(
    tmp_path: Path, event_log: tuple[str, str]
) -> None:
    stores, _ = event_log
    config, database = tmp_path / "gateway.toml", tmp_path / "gateway.sqlite3"
    port = free_port()
    write_config(config, port, database, stores)
    tracking = f"SP{int(hashlib.sha256(str(tmp_path).encode()).hexdigest(), 16) % 10**10:010d}"

    with gateway_process(config, port) as first:
        assert first.process is not None
        killed = asyncio.Event()
        acknowledged = await burst(
            first.url, tracking, killed, lambda: first.process.send_signal(signal.SIGKILL)
        )
        first.process.wait(timeout=10)
    assert killed.is_set() and len(acknowledged) >= KILL_AFTER_ACKS
    projected_at_kill = len(history_counts(database, acknowledged))
    print(
        f"\nkilled after {len(acknowledged)} acknowledged webhooks; "
        f"{len(acknowledged) - projected_at_kill} of them not yet in the history"
    )

    with gateway_process(config, port):
        deadline = time.monotonic() + HEAL_WAIT_S
        counts = history_counts(database, acknowledged)
        while len(counts) < len(acknowledged) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            counts = history_counts(database, acknowledged)
    missing = acknowledged - set(counts)
    assert not missing, f"{len(missing)} acknowledged milestones never reached the history"
    doubled = {event_id: n for event_id, n in counts.items() if n != 1}
    assert not doubled, f"milestones in the history more than once: {doubled}"
