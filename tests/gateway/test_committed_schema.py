"""The committed public schema and supergraph are what the built-in subgraphs compose to now."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from federation.composition import compose_from_config

ROOT = Path(__file__).resolve().parents[2]


def test_schema_graphql_and_supergraph_match_the_subgraphs():
    result = compose_from_config(ROOT / "subgraphs.toml")
    assert (ROOT / "supergraph.graphql").read_text().strip() == result.supergraph_sdl.strip(), (
        "supergraph.graphql is stale: run logistics-gateway compose (see subgraphs.toml)"
    )
    assert (ROOT / "schema.graphql").read_text().strip() == result.api_schema_sdl.strip(), (
        "schema.graphql is stale: run logistics-gateway schema check --accept"
    )


def test_the_compose_command_writes_both_files(tmp_path):
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "compose",
            "--config",
            str(ROOT / "subgraphs.toml"),
            "--out",
            str(tmp_path / "supergraph.graphql"),
            "--api-schema",
            str(tmp_path / "schema.graphql"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "type Shipment" in (tmp_path / "schema.graphql").read_text()
    assert "@join__graph" in (tmp_path / "supergraph.graphql").read_text()
