"""The JetStream event log against a NATS server of its own that stops and starts again.

The test runs `nats-server` as a separate process on a free port with its own storage folder,
so stopping it disturbs nobody else. A missing binary is a skip locally and a failure in CI.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from stores.event_log import EventLogUnavailable
from stores.jetstream import JetStreamEventLog
from tests.sandbox_processes import free_port
from tests.stores.test_event_log import make_event

NATS_SERVER = "/usr/sbin/nats-server"


class NatsServer:
    """One nats-server process with JetStream on a fixed port and storage folder."""

    def __init__(self, binary: str, port: int, storage: Path, log: Path) -> None:
        self.binary, self.port, self.storage, self.log = binary, port, storage, log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        arguments = [self.binary, "-a", "127.0.0.1", "-p", str(self.port)]
        arguments += ["-js", "-sd", str(self.storage)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(arguments, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nats-server did not listen:\n{self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    binary = NATS_SERVER if os.access(NATS_SERVER, os.X_OK) else shutil.which("nats-server")
    if binary is None:
        message = f"no nats-server binary at {NATS_SERVER} or on PATH"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message} (CI=true: the real server is required)")
        pytest.skip(message)
    server = NatsServer(binary, free_port(), tmp_path / "jetstream", tmp_path / "nats.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def eventually(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.02)


async def test_appends_fail_fast_during_an_outage_and_succeed_after_a_restart(
    nats_server: NatsServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="stores.jetstream")
    log = await JetStreamEventLog.connect(
        nats_server.url, reconnect_base_s=0.05, reconnect_max_s=0.3, stream="OUTAGE"
    )
    first, during, after = (f"evt-{uuid.uuid4().hex}" for _ in range(3))
    try:
        await log.append(make_event(first))
        nats_server.stop()
        await eventually(lambda: not log.connected, 5, "the log notices NATS went away")
        start = time.perf_counter()
        with pytest.raises(EventLogUnavailable, match="NATS is not connected"):
            await log.append(make_event(during))
        failed_in = time.perf_counter() - start
        with pytest.raises(EventLogUnavailable):
            await log.read()
        await asyncio.sleep(2.5)
        attempts = sum("NATS connection problem" in r.getMessage() for r in caplog.records)
        nats_server.start()
        await eventually(lambda: log.connected, 10, "the log reconnects once NATS is back")
        start = time.perf_counter()
        await log.append(make_event(after))
        recovered_in = time.perf_counter() - start
        stored = await log.read()
    finally:
        await log.close()
    print(f"\nappend during the outage failed in {failed_in * 1000:.1f} ms; "
          f"{attempts} reconnect attempts in 2.5 s; after the restart it took "
          f"{recovered_in * 1000:.1f} ms")  # fmt: skip
    assert attempts >= 5, f"only {attempts} reconnect attempts in a 2.5 s outage"
    assert failed_in < 0.1, f"an append during the outage took {failed_in:.3f} s to fail"
    assert [e.envelope.event_id for e in stored] == [first, after]


async def test_reading_creates_no_consumer(nats_server: NatsServer) -> None:
    log = await JetStreamEventLog.connect(nats_server.url, stream="READS")
    try:
        ids = [f"evt-{uuid.uuid4().hex}" for _ in range(5)]
        for event_id in ids:
            await log.append(make_event(event_id))
        for after in range(5):
            read = await log.read(after=after, limit=2)
            assert [e.envelope.event_id for e in read] == ids[after : after + 2]
        assert await log.read(after=5) == []
        info = await log._js.stream_info("READS")
    finally:
        await log.close()
    assert info.state.consumer_count == 0
