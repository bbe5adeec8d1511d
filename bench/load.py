"""Load generators: wrk (C, low overhead) when installed, else a bounded asyncio client.

Both send one fixed GraphQL POST over keep-alive connections to a loopback URL for a fixed
time and report throughput and latency percentiles in the same shape.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

_LUA = """wrk.method = "POST"
wrk.body = [==[{body}]==]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
{headers}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %d %d %d %d %.1f %.1f %.1f\\n", summary.requests,
    summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
"""

_BENCH_LINE = re.compile(r"^BENCH (\d+) (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+)$", re.M)

MAX_REQUESTS = 50_000_000
"""Hard bound on requests of one python-loadgen run, on top of its time bound."""


@dataclass(frozen=True)
class LoadResult:
    """One fixed-time load run against one URL."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    bad_status: int
    socket_errors: int


def _check_loopback(url: str) -> None:
    """The benchmark only ever targets this machine."""
    host = urlsplit(url).hostname or ""
    if not (host == "localhost" or host.startswith("127.") or host == "::1"):
        raise ValueError(f"refusing to load non-loopback host {host!r}")


def have_wrk() -> bool:
    """Whether the wrk binary is on PATH."""
    return shutil.which("wrk") is not None


def run_wrk(
    url: str,
    body: bytes,
    seconds: float,
    concurrency: int,
    headers: Mapping[str, str] | None = None,
) -> LoadResult:
    """Drive `url` with wrk (one thread) for `seconds`; `headers` go with every request."""
    _check_loopback(url)
    extra = "\n".join(
        f'wrk.headers["{name}"] = "{value}"' for name, value in (headers or {}).items()
    )
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(_LUA.replace("{body}", body.decode()).replace("{headers}", extra))
        cmd = [
            "wrk",
            "-t1",
            f"-c{concurrency}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "5s",
            "-s",
            str(script),
            url,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    match = _BENCH_LINE.search(proc.stdout)
    if proc.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stdout}{proc.stderr}")
    reqs, dur_us, bad, sock, p50, p99, mean = match.groups()
    secs = int(dur_us) / 1e6
    return LoadResult(
        requests=int(reqs),
        seconds=secs,
        rps=int(reqs) / secs if secs else 0.0,
        p50_ms=float(p50) / 1000,
        p99_ms=float(p99) / 1000,
        mean_ms=float(mean) / 1000,
        bad_status=int(bad),
        socket_errors=int(sock),
    )


async def _worker(
    host: str, port: int, request: bytes, deadline: float, lat: list[float], counts: list[int]
) -> None:
    """One keep-alive connection sending the request back to back until the deadline."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline and counts[0] < MAX_REQUESTS:
            t0 = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            lat.append(time.perf_counter() - t0)
            counts[0] += 1
            if status >= 400:
                counts[1] += 1
    except (OSError, asyncio.IncompleteReadError, ValueError):
        counts[2] += 1
    finally:
        writer.close()


async def _python_load(
    url: str,
    body: bytes,
    seconds: float,
    concurrency: int,
    headers: Mapping[str, str] | None = None,
) -> LoadResult:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    request = (
        f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nAccept: application/json\r\n{extra}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    lat: list[float] = []
    counts = [0, 0, 0]  # requests, bad status, socket errors
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.wait_for(
        asyncio.gather(
            *(_worker(host, port, request, deadline, lat, counts) for _ in range(concurrency))
        ),
        timeout=seconds + 30,
    )
    elapsed = time.perf_counter() - start
    lat.sort()

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else 0.0

    return LoadResult(
        requests=counts[0],
        seconds=elapsed,
        rps=counts[0] / elapsed if elapsed else 0.0,
        p50_ms=pct(0.50),
        p99_ms=pct(0.99),
        mean_ms=sum(lat) / len(lat) * 1000 if lat else 0.0,
        bad_status=counts[1],
        socket_errors=counts[2],
    )


def run_python(
    url: str,
    body: bytes,
    seconds: float,
    concurrency: int,
    headers: Mapping[str, str] | None = None,
) -> LoadResult:
    """Fallback load generator when wrk is missing; it costs more CPU than wrk does."""
    _check_loopback(url)
    return asyncio.run(_python_load(url, body, seconds, concurrency, headers))
