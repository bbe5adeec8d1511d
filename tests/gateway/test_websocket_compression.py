"""WebSocket compression (permessage-deflate) is negotiated only when the configuration turns
it on: a `logistics-gateway run` process answers a client that offers it without it by
default, and with it under `[subscriptions] websocket_compression = true`."""

from __future__ import annotations

from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from tests.gateway.conftest import gateway_process
from tests.sandbox_processes import free_port


def _config(directory: Path, port: int, subscriptions: str) -> Path:
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
{subscriptions}
"""
    )
    return path


@pytest.mark.parametrize(
    ("subscriptions", "negotiated"),
    [("", False), ("websocket_compression = true", True)],
)
async def test_permessage_deflate_is_negotiated_only_when_turned_on(
    tmp_path: Path, subscriptions: str, negotiated: bool
):
    port = free_port()
    with gateway_process(_config(tmp_path, port, subscriptions), port):
        async with await connect(
            f"ws://127.0.0.1:{port}/graphql",
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            compression="deflate",
        ) as socket:
            assert socket.response is not None
            answered = socket.response.headers.get("Sec-WebSocket-Extensions") or ""
    assert ("permessage-deflate" in answered) is negotiated, answered
