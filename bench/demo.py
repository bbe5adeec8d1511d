"""The demo as a benchmark's subject: `logistics-gateway demo` (the reference backends and the
gateway on embedded defaults) on free ports, with its state in a folder of the benchmark's."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from gateway.commands import SANDBOX_BACKENDS
from gateway.config import GatewayConfig


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


UNTHROTTLED: dict[str, str] = {"LG_THROTTLING__ENABLED": "false"}
"""The demo's rate limits off (an override for `demo_gateway`): a benchmark measures the path
a request takes, not the plan's limit on it."""


@dataclass(frozen=True)
class Gateway:
    url: str
    swift_secret: str
    backends: dict[str, str]
    """Each reference backend's URL."""
    tms_key: str
    pid: int = 0
    """The demo command's process (the gateway, or with workers their supervisor)."""
    heritage_password: str = ""
    """What Heritage's pushes authenticate with (HTTP basic, user `heritage`)."""

    @property
    def websocket_url(self) -> str:
        return self.url.replace("http://", "ws://", 1) + "/graphql"


@contextmanager
def demo_gateway(
    engine: str,
    nats_url: str,
    folder: Path,
    timeout: float,
    overrides: Mapping[str, str] | None = None,
    arguments: Sequence[str] = (),
) -> Iterator[Gateway]:
    """`logistics-gateway demo` on free ports with its state under `folder`; ``overrides``
    are configuration variables (``LG_*``) set on top of the embedded defaults, ``arguments``
    more of the command's own (``--workers 2``)."""
    port = free_port()
    environment = {
        **os.environ,
        "LG_SERVER__PORT": str(port),
        "LG_STORES__DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'gateway.sqlite3'}",
        "LG_POLLING__INTERVAL_S": "2",  # bookings a benchmark makes reach the read models soon
        **(overrides or {}),
    }
    for name in SANDBOX_BACKENDS:
        environment[f"LG_BACKENDS__{name.upper()}__URL"] = f"http://127.0.0.1:{free_port()}"
    if engine == "jetstream":
        environment["LG_STORES__EVENT_LOG"] = nats_url
        suffix = uuid.uuid4().hex[:8]
        environment["LG_STORES__EVENT_STREAM"] = f"BENCH_INGEST_{suffix.upper()}"
        environment["LG_STORES__EVENT_SUBJECT_PREFIX"] = f"bench{suffix}.events"
    command = [
        sys.executable,
        *("-m", "gateway.cli", "demo"),
        *("--state-dir", str(folder / "sandbox")),
        *("--simulate", "3600"),
        *arguments,
    ]
    log = (folder / "demo.log").open("wb")
    process = subprocess.Popen(
        command, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"the demo stopped; see {folder / 'demo.log'}")
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        else:
            raise SystemExit("the demo did not start in time")
        backends = {
            name: environment[f"LG_BACKENDS__{name.upper()}__URL"] for name in SANDBOX_BACKENDS
        }
        defaults = GatewayConfig.model_construct()
        yield Gateway(
            url,
            defaults.webhooks.swiftparcel_secret,
            backends,
            defaults.backends.tms.credential,
            process.pid,
            defaults.webhooks.heritage_password,
        )
    finally:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
        log.close()
