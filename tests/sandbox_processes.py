"""Pytest plugin: the six reference backends as real processes on loopback.

`sandbox` (session) starts `python -m sandbox.<name>` for every backend on free 127.0.0.1
ports with temporary SQLite files, waits for `/_admin/health`, and stops them at the end.
`clean_faults` (function) switches every fault off before and after a test. Tests talk to
the backends over HTTP only, exactly as the product does.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from sandbox.runner import stop_children

BACKENDS = ("erp", "wms", "tms", "swiftparcel", "roadline", "heritage")
REPOSITORY = Path(__file__).resolve().parents[1]
START_TIMEOUT = 40.0

Request = tuple[str, str, dict[str, Any] | None]


@dataclass(frozen=True)
class Sandbox:
    """Base URLs of the running backends, their demo credentials and admin helpers.

    Every helper has a sync form and an async one prefixed with `a` (`set_faults` /
    `aset_faults`); they are plain httpx calls to the backend's `/_admin` API.
    """

    erp: str
    wms: str
    tms: str
    swiftparcel: str
    roadline: str
    heritage: str
    state_dir: Path
    seed: int = 7

    ERP_KEY: ClassVar[str] = "erp-demo-key"
    WMS_TOKEN: ClassVar[str] = "wms-demo-token"
    TMS_KEY: ClassVar[str] = "tms-demo-key"
    SWIFT_KEY: ClassVar[str] = "swift-demo-key"
    ROADLINE_KEY: ClassVar[str] = "roadline-demo-key"
    HERITAGE_USER: ClassVar[str] = "heritage"

    def url(self, backend: str) -> str:
        """Base URL of one backend by name (`erp`, `wms`, …)."""
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; one of {BACKENDS}")
        return str(getattr(self, backend))

    def urls(self) -> dict[str, str]:
        return {backend: self.url(backend) for backend in BACKENDS}

    def headers(self, backend: str) -> dict[str, str]:
        """The demo credential headers of a backend's API (RoadLine uses `params`)."""
        return {
            "erp": {"X-ERP-Key": self.ERP_KEY},
            "wms": {"Authorization": f"Bearer {self.WMS_TOKEN}"},
            "tms": {"X-Api-Key": self.TMS_KEY},
            "swiftparcel": {"X-Swift-Key": self.SWIFT_KEY},
        }.get(backend, {})

    def params(self, backend: str) -> dict[str, str]:
        return {"apikey": self.ROADLINE_KEY} if backend == "roadline" else {}

    # Requests, shared by the sync and async helpers.

    def _faults(self, backend: str, faults: dict[str, Any]) -> Request:
        return "PUT", f"{self.url(backend)}/_admin/faults", faults

    def _reset(self, backend: str) -> Request:
        return "DELETE", f"{self.url(backend)}/_admin/faults", None

    def _webhook(self, backend: str, url: str | None, secret: str | None) -> Request:
        return "PUT", f"{self.url(backend)}/_admin/webhooks", {"url": url, "secret": secret}

    def _advance(self, backend: str, reference: str, steps: int) -> Request:
        body = {"reference": reference, "steps": steps}
        return "POST", f"{self.url(backend)}/_admin/advance", body

    def _emit(
        self, backend: str, reference: str, status: str, occurred_at: str | None, extra: dict
    ) -> Request:
        body = {"reference": reference, "status": status, **extra}
        if occurred_at is not None:
            body["occurred_at"] = occurred_at
        return "POST", f"{self.url(backend)}/_admin/emit", body

    def _requests(self, backend: str, clear: bool = False) -> Request:
        return ("DELETE" if clear else "GET"), f"{self.url(backend)}/_admin/requests", None

    def _deliveries(self, backend: str, clear: bool = False) -> Request:
        return ("DELETE" if clear else "GET"), f"{self.url(backend)}/_admin/deliveries", None

    @staticmethod
    def _call(*requests: Request) -> Any:
        """Send the requests in order on one client; answers the last JSON body."""
        answer = None
        with httpx.Client(timeout=30.0) as client:
            for method, url, body in requests:
                response = client.request(method, url, json=body)
                response.raise_for_status()
                answer = response.json()
        return answer

    @staticmethod
    async def _acall(*requests: Request) -> Any:
        answer = None
        async with httpx.AsyncClient(timeout=30.0) as client:
            for method, url, body in requests:
                response = await client.request(method, url, json=body)
                response.raise_for_status()
                answer = response.json()
        return answer

    # Sync helpers.

    def set_faults(self, backend: str, **faults: Any) -> dict[str, Any]:
        """Set some faults (`latency_ms=200`, `outage=True`, …); answers the full settings."""
        return self._call(self._faults(backend, faults))

    def reset_faults(self, *backends: str) -> None:
        """Switch faults off on the named backends, or on all of them."""
        self._call(*(self._reset(backend) for backend in backends or BACKENDS))

    def set_webhook(self, backend: str, url: str | None, secret: str | None = None) -> None:
        """Where a pushing backend (wms, swiftparcel, heritage) sends; None stops pushing."""
        self._call(self._webhook(backend, url, secret))

    def advance(self, backend: str, reference: str, steps: int = 1) -> list[dict[str, Any]]:
        """Move a shipment, order or task on; answers the events made."""
        return self._call(self._advance(backend, reference, steps))["events"]

    def emit(
        self, backend: str, reference: str, status: str, occurred_at: str | None = None, **extra
    ) -> list[dict[str, Any]]:
        """Emit exactly this status (the backend's own code), even out of sequence."""
        return self._call(self._emit(backend, reference, status, occurred_at, extra))["events"]

    def deliveries(self, backend: str) -> list[dict[str, Any]]:
        """Outbound webhook attempts, newest last, with the answers' status codes."""
        return self._call(self._deliveries(backend))["deliveries"]

    def clear_deliveries(self, backend: str) -> None:
        self._call(self._deliveries(backend, clear=True))

    def requests(self, backend: str) -> list[dict[str, str]]:
        """The API requests the backend received since the last clear (method, path, query)."""
        return self._call(self._requests(backend))["requests"]

    def clear_requests(self, *backends: str) -> None:
        """Forget the requests received by the named backends, or by all of them."""
        self._call(*(self._requests(backend, clear=True) for backend in backends or BACKENDS))

    # Async helpers.

    async def aset_faults(self, backend: str, **faults: Any) -> dict[str, Any]:
        return await self._acall(self._faults(backend, faults))

    async def areset_faults(self, *backends: str) -> None:
        await self._acall(*(self._reset(backend) for backend in backends or BACKENDS))

    async def aset_webhook(self, backend: str, url: str | None, secret: str | None = None) -> None:
        await self._acall(self._webhook(backend, url, secret))

    async def aadvance(self, backend: str, reference: str, steps: int = 1) -> list[dict[str, Any]]:
        return (await self._acall(self._advance(backend, reference, steps)))["events"]

    async def aemit(
        self, backend: str, reference: str, status: str, occurred_at: str | None = None, **extra
    ) -> list[dict[str, Any]]:
        request = self._emit(backend, reference, status, occurred_at, extra)
        return (await self._acall(request))["events"]

    async def adeliveries(self, backend: str) -> list[dict[str, Any]]:
        return (await self._acall(self._deliveries(backend)))["deliveries"]

    async def aclear_deliveries(self, backend: str) -> None:
        await self._acall(self._deliveries(backend, clear=True))

    async def arequests(self, backend: str) -> list[dict[str, str]]:
        return (await self._acall(self._requests(backend)))["requests"]

    async def aclear_requests(self, *backends: str) -> None:
        await self._acall(
            *(self._requests(backend, clear=True) for backend in backends or BACKENDS)
        )


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Process:
    """One backend process and its log file; restarted on another port if the port was taken."""

    def __init__(self, name: str, state_dir: Path) -> None:
        self.name = name
        self.state_dir = state_dir
        self.log_path = state_dir / f"{name}.log"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.port = free_port()
        environment = dict(os.environ)
        environment["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(REPOSITORY), environment.get("PYTHONPATH")])
        )
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    f"sandbox.{self.name}",
                    *("--host", "127.0.0.1", "--port", str(self.port)),
                    *("--db", str(self.state_dir / f"{self.name}.sqlite3")),
                ],
                cwd=REPOSITORY,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-2000:]


def _wait_healthy(processes: list[_Process]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    waiting = list(processes)
    restarts = 0
    with httpx.Client(timeout=1.0) as client:
        while waiting:
            for process in list(waiting):
                assert process.process is not None
                if process.process.poll() is not None:
                    if "address already in use" in process.log_tail().lower() and restarts < 5:
                        restarts += 1
                        process.start()
                        continue
                    raise RuntimeError(f"sandbox {process.name} exited:\n{process.log_tail()}")
                try:
                    answer = client.get(f"{process.url}/_admin/health")
                except httpx.TransportError:
                    continue
                if answer.status_code == 200:
                    waiting.remove(process)
            if waiting and time.monotonic() > deadline:
                names = ", ".join(p.name for p in waiting)
                raise RuntimeError(f"sandbox backends not healthy in {START_TIMEOUT}s: {names}")
            if waiting:
                time.sleep(0.1)


@contextmanager
def started_sandbox(state_dir: Path) -> Iterator[Sandbox]:
    """All six backends, freshly seeded (seed 7), with their state in `state_dir`."""
    processes = [_Process(name, state_dir) for name in BACKENDS]
    try:
        for process in processes:
            process.start()
        _wait_healthy(processes)
        yield Sandbox(state_dir=state_dir, **{p.name: p.url for p in processes})
    finally:
        stop_children([p.process for p in processes if p.process is not None], grace=10.0)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """The backends most tests share, for the whole session."""
    with started_sandbox(tmp_path_factory.mktemp("sandbox")) as started:
        yield started


@pytest.fixture
def clean_faults(sandbox: Sandbox) -> Iterator[Sandbox]:
    """No faults on any backend when the test starts, and none left behind when it ends."""
    sandbox.reset_faults()
    yield sandbox
    sandbox.reset_faults()
