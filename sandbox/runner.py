"""Command lines: one backend in this process, or all of them as child processes."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

import uvicorn

from sandbox.app import create_app
from sandbox.seed import DEFAULT_SEED
from sandbox.service import Backend, BackendConfig

STATE_DIR = Path("var/sandbox")
BACKEND_MODULES = ("erp", "wms", "tms", "swiftparcel", "roadline", "heritage")
FIRST_PORT = 8101


def _common_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--webhook-url", default=None)
    parser.add_argument("--webhook-secret", default="")
    parser.add_argument(
        "--simulate",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="advance a few shipments and tasks on this period (0: only on demand)",
    )


def parse_config(backend_class: type[Backend], argv: Sequence[str] | None = None) -> BackendConfig:
    """Read one backend's flags; --db defaults to var/sandbox/<name>.sqlite3."""
    parser = argparse.ArgumentParser(
        prog=f"python -m sandbox.{backend_class.name}",
        description=f"Reference {backend_class.name} backend.",
    )
    _common_flags(parser)
    parser.add_argument("--port", type=int, default=backend_class.default_port)
    parser.add_argument("--db", type=Path, default=STATE_DIR / f"{backend_class.name}.sqlite3")
    if backend_class.supports_maintenance:
        parser.add_argument(
            "--rate-limit", type=float, default=20.0, help="requests per second per API key"
        )
    args = parser.parse_args(argv)
    return BackendConfig(
        db=args.db,
        host=args.host,
        port=args.port,
        seed=args.seed,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        simulate=args.simulate,
        rate_limit=getattr(args, "rate_limit", 20.0),
    )


def run(backend_class: type[Backend], argv: Sequence[str] | None = None) -> None:
    """Serve one backend until interrupted."""
    config = parse_config(backend_class, argv)
    app = create_app(backend_class, config)
    print(
        f"{backend_class.name} listening on http://{config.host}:{config.port} (db {config.db})",
        flush=True,
    )
    uvicorn.run(app, host=config.host, port=config.port, log_level="warning")


def run_all(argv: Sequence[str] | None = None) -> int:
    """Start every backend as its own process; stop them all on Ctrl-C, SIGTERM, or when the
    program that started this one ends (however it ends)."""
    parser = argparse.ArgumentParser(
        prog="python -m sandbox", description="Run every reference backend."
    )
    _common_flags(parser)
    parser.add_argument("--state-dir", type=Path, default=STATE_DIR)
    parser.add_argument("--first-port", type=int, default=FIRST_PORT)
    parser.add_argument(
        "--port",
        action="append",
        default=[],
        metavar="BACKEND=PORT",
        help="one backend's port instead of its place after --first-port (repeatable)",
    )
    args = parser.parse_args(argv)
    ports = _ports(parser, args.first_port, args.port)
    args.state_dir.mkdir(parents=True, exist_ok=True)

    stopping: list[int] = []

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    children: dict[str, subprocess.Popen[bytes]] = {}
    parent = os.getppid()
    try:
        for name in BACKEND_MODULES:
            port = ports[name]
            command = [
                sys.executable,
                "-m",
                f"sandbox.{name}",
                *("--host", args.host, "--port", str(port)),
                *("--db", str(args.state_dir / f"{name}.sqlite3"), "--seed", str(args.seed)),
                *("--simulate", str(args.simulate)),
            ]
            if args.webhook_url:
                command += ["--webhook-url", args.webhook_url.replace("{backend}", name)]
                command += ["--webhook-secret", args.webhook_secret]
            children[name] = subprocess.Popen(command, stdout=subprocess.DEVNULL)
            print(f"{name:12} http://{args.host}:{port}", flush=True)
        print("Ctrl-C stops every backend.", flush=True)
        while not stopping:
            if os.getppid() != parent:  # whoever started us is gone: do not outlive it
                return 0
            failed = [name for name, child in children.items() if child.poll() is not None]
            if failed:
                print(f"stopped unexpectedly: {', '.join(failed)}", file=sys.stderr, flush=True)
                return 1
            time.sleep(0.2)
        return 0
    finally:
        stop_children(list(children.values()))


def _ports(
    parser: argparse.ArgumentParser, first_port: int, overrides: Sequence[str]
) -> dict[str, int]:
    """Consecutive ports from `first_port` in table order, except the ones named `NAME=PORT`."""
    ports = {name: first_port + offset for offset, name in enumerate(BACKEND_MODULES)}
    for override in overrides:
        name, _, port = override.partition("=")
        if name not in ports or not port.isdigit() or not 0 < int(port) < 65536:
            parser.error(f"--port expects BACKEND=PORT with a backend of {BACKEND_MODULES}")
        ports[name] = int(port)
    return ports


def stop_children(children: Sequence[subprocess.Popen[bytes]], grace: float = 5.0) -> None:
    """Terminate, wait a little, then kill whatever is still running."""
    for child in children:
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + grace
    for child in children:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
