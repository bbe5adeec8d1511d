"""A stopping gateway process closes its clients' live connections with the right code.

`logistics-gateway run` as a process; SIGTERM while a WebSocket (graphql-transport-ws) is
open: the socket is closed with 1001 (not uvicorn's own 1012) and the process exits.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.gateway.conftest import API_KEYS, RunningGateway, _digest, _wait_healthy
from tests.sandbox_processes import free_port


def _config(directory: Path, port: int) -> Path:
    path = directory / "gateway.toml"
    path.write_text(
        f"""
[server]
port = {port}

[stores]
database_url = "sqlite+aiosqlite:///{directory / "gateway.sqlite3"}"

[polling]
enabled = false

[subscriptions]
heartbeat_s = 0.5

[clients.portal-c1001]
tenant = "C-1001"
api_key_sha256 = "{_digest(API_KEYS["C-1001"])}"
"""
    )
    return path


async def test_sigterm_closes_websockets_with_1001(tmp_path: Path):
    port = free_port()
    config = _config(tmp_path, port)
    log = tmp_path / "gateway.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "run", "--config", str(config)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        running = RunningGateway(url=f"http://127.0.0.1:{port}", log=log)
        await asyncio.to_thread(_wait_healthy, running, process)
        socket = await connect(
            f"ws://127.0.0.1:{port}/graphql",
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        )
        init = {"type": "connection_init", "payload": {"x-api-key": API_KEYS["C-1001"]}}
        await socket.send(orjson.dumps(init).decode())
        assert orjson.loads(await asyncio.wait_for(socket.recv(), 10)) == {"type": "connection_ack"}
        process.terminate()
        try:
            while True:
                await asyncio.wait_for(socket.recv(), 10)
        except ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 1001
        # uvicorn re-raises the signal once it has shut down gracefully
        assert await asyncio.to_thread(process.wait, 20) in (0, -15)
        assert "Traceback" not in log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
