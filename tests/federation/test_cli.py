"""``logistics-gateway serve`` serves a supergraph file, as the conformance audit drives it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from gateway.cli import build_parser, main
from tests.federation.conftest import SUPERGRAPH_PATH, free_port


def test_serve_arguments() -> None:
    arguments = build_parser().parse_args(
        ["serve", "--supergraph", "s.graphql", "--port", "4010", "--subgraph", "a=http://x"]
    )
    assert arguments.port == 4010
    assert arguments.host == "127.0.0.1"
    assert arguments.subgraph == ["a=http://x"]


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "serve" in capsys.readouterr().out


def test_a_command_imports_only_what_it_needs_and_the_help_lists_every_command() -> None:
    """`schema check` in a CI step should not pay for importing the whole gateway."""
    probe = (
        "import sys\n"
        "from gateway.cli import main\n"
        "try:\n"
        "    main(['schema', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted({'sqlalchemy', 'uvicorn', 'gateway.app'} & set(sys.modules)))\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert ran.stdout.strip().splitlines()[-1] == "[]", ran.stdout
    listed = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    for command in ("serve", "run", "demo", "compose", "schema", "keys", "admin"):
        assert command in listed.stdout


def test_missing_supergraph_file_fails_cleanly(tmp_path: Path) -> None:
    assert main(["serve", "--supergraph", str(tmp_path / "missing.graphql")]) == 2


def test_serve_answers_queries_over_http() -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "serve",
            "--supergraph",
            str(SUPERGRAPH_PATH),
            "--port",
            str(port),
        ],
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise AssertionError("gateway did not become healthy")
            time.sleep(0.1)
        response = httpx.post(
            f"{base}/graphql", json={"query": '{ product(upc: "p1") { name inStock } }'}
        )
        assert response.json() == {"data": {"product": {"name": "Pallet jack", "inStock": True}}}
    finally:
        process.terminate()
        process.wait(timeout=10)
