"""The subscription hub's fan-out: events appended per second and the delay from an append to
its delivery to every one of N in-process listeners (p50, p99), on the embedded SQL log or on
JetStream. One tail serves them all, so the cost per event is one read plus N hand-overs.

    python -m bench.live_hub --listeners 1000 --events 2000
    python -m bench.live_hub --engine jetstream --nats nats://127.0.0.1:4222

Bounded: a fixed number of events, and each wait is capped (`--timeout`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from domain.events import EventEnvelope, SourceSystem
from process_apis.live.hub import Interest, SubscriptionHub
from stores.event_log import AppendSignal, EventLog, SignallingEventLog, SqlEventLog
from stores.sql import create_tables, open_engine


@contextlib.asynccontextmanager
async def opened_log(engine: str, nats_url: str, folder: Path) -> AsyncIterator[EventLog]:
    if engine == "jetstream":
        from stores.jetstream import JetStreamEventLog

        log = await JetStreamEventLog.connect(
            nats_url,
            stream=f"BENCH_{uuid.uuid4().hex[:10].upper()}",
            subject_prefix=f"bench.{uuid.uuid4().hex[:10]}",
        )
        try:
            yield log
        finally:
            await log._js.delete_stream(log._stream)
            await log.close()
        return
    sql = open_engine(f"sqlite+aiosqlite:///{folder / 'bench.sqlite3'}")
    await create_tables(sql)
    try:
        yield SqlEventLog(sql)
    finally:
        await sql.dispose()


def envelope(number: int) -> EventEnvelope:
    now = datetime.now(UTC)
    return EventEnvelope(
        event_id=f"bench-{uuid.uuid4().hex}",
        event_type="shipment.milestone",
        source=SourceSystem.CARRIER,
        source_name="SWFT",
        aggregate_type="Shipment",
        aggregate_id="SP-BENCH",
        occurred_at=now,
        received_at=now,
        correlation_id="bench",
        payload={"number": number},
    )


async def run(engine: str, nats_url: str, listeners: int, events: int, timeout_s: float) -> None:
    with tempfile.TemporaryDirectory() as folder:
        async with opened_log(engine, nats_url, Path(folder)) as inner:
            signal = AppendSignal()
            log = SignallingEventLog(inner, signal)
            hub = SubscriptionHub(log, appended=signal, listener_capacity=events + 1)
            appended_at: dict[int, float] = {}
            """When each event (by its number in the payload) was handed to the log."""
            delays: list[float] = []

            async def listen(listener) -> None:
                received = 0
                async for event in listener:
                    number = event.envelope.payload["number"]
                    delays.append(time.perf_counter() - appended_at[number])
                    received += 1
                    if received == events:
                        return

            async with contextlib.AsyncExitStack() as stack:
                opened = [
                    await stack.enter_async_context(hub.listen(Interest("Shipment", "SP-BENCH")))
                    for _ in range(listeners)
                ]
                tasks = [asyncio.create_task(listen(item)) for item in opened]
                started = time.perf_counter()
                for number in range(events):
                    appended_at[number] = time.perf_counter()
                    await log.append(envelope(number))
                appended_s = time.perf_counter() - started
                await asyncio.wait_for(asyncio.gather(*tasks), timeout_s)
                delivered_s = time.perf_counter() - started
            await hub.close()
    delays.sort()
    print(
        f"{engine}: {events} events to {listeners} listeners; "
        f"appended {events / appended_s:,.0f} events/s; "
        f"all delivered {events / delivered_s:,.0f} events/s "
        f"({events * listeners / delivered_s:,.0f} deliveries/s); "
        f"append-to-delivery p50 {statistics.median(delays) * 1000:.1f} ms, "
        f"p99 {delays[int(len(delays) * 0.99) - 1] * 1000:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["sql", "jetstream"], default="sql")
    parser.add_argument("--nats", default="nats://127.0.0.1:4222")
    parser.add_argument("--listeners", type=int, default=1000)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--timeout", type=float, default=120.0)
    options = parser.parse_args()
    asyncio.run(
        run(options.engine, options.nats, options.listeners, options.events, options.timeout)
    )


if __name__ == "__main__":
    main()
