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
