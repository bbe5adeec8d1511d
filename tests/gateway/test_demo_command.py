"""The run command of the README: backends and gateway come up together and go down together."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.sandbox_processes import free_port

SANDBOX_PORTS = range(8101, 8107)


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.3)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_demo_serves_graphql_over_the_backends_and_stops_them_on_exit(tmp_path):
    if any(listening(port) for port in SANDBOX_PORTS):
        message = "the demo's backend ports 8101-8106 are taken"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    port = free_port()
    environment = {
        **os.environ,
        "LG_SERVER__PORT": str(port),
        "LG_STORES__DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'gateway.sqlite3'}",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "demo", "--state-dir", str(tmp_path / "sandbox")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=environment,
        text=True,
    )
    try:
        banner = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()  # type: ignore[union-attr]
            banner.append(line)
            if line.startswith("GraphiQL: "):
                break
        assert any(
            line.startswith(f"GraphiQL: http://127.0.0.1:{port}/graphiql ") for line in banner
        ), "".join(banner)
        answer = None
        while time.monotonic() < deadline:
            try:
                answer = httpx.post(
                    f"http://127.0.0.1:{port}/graphql",
                    json={"query": "{ me { id name } }"},
                    headers={"X-API-Key": "demo-key-c1001"},
                    timeout=5,
                )
                break
            except httpx.ConnectError:
                time.sleep(0.2)
        assert answer is not None and answer.status_code == 200, answer
        assert answer.json()["data"]["me"]["id"] == "C-1001"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(listening(p) for p in SANDBOX_PORTS):
        time.sleep(0.2)
    assert not any(listening(p) for p in SANDBOX_PORTS), "the backends outlived the demo"
