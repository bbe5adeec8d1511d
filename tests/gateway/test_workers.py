"""`--workers N` on the embedded stores is refused with what to switch, before anything
starts; a number of workers that makes no sense is refused too. (Workers on the shared engines
serve in `test_replicas`.)"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from gateway.cli import main
from tests.sandbox_processes import REPOSITORY, free_port


def embedded(tmp_path: Path) -> Path:
    config = tmp_path / "gateway.toml"
    config.write_text(f'[stores]\ndatabase_url = "sqlite+aiosqlite:///{tmp_path / "s.db"}"\n')
    return config


@pytest.mark.parametrize("command", ["run", "demo"])
def test_several_workers_on_the_embedded_stores_are_refused_naming_each_store(
    tmp_path, capsys, command
):
    code = main([command, "--workers", "2", "--config", str(embedded(tmp_path))])
    err = capsys.readouterr().err
    assert code == 2
    assert "--workers 2 needs the shared engines (PostgreSQL, Redis, NATS JetStream)" in err
    assert "[stores] database_url is SQLite" in err and "[stores] cache is memory" in err
    assert not (tmp_path / "s.db").exists(), "nothing was started"


def test_workers_on_postgres_with_a_memory_cache_are_refused_for_the_cache(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.delenv("LG_THROTTLING__ENABLED", raising=False)
    config = tmp_path / "gateway.toml"
    config.write_text(
        '[stores]\ndatabase_url = "postgresql+asyncpg://gateway@127.0.0.1:1/none"\n'
        '[throttling]\nstorage = "memory"\n'
    )
    assert main(["run", "--workers", "3", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "database_url" not in err and "[stores] cache is memory" in err
    assert "[throttling] storage" in err


@pytest.mark.parametrize("workers", ["0", "-1", "65", "100000"])
@pytest.mark.parametrize("command", ["run", "serve"])
def test_a_number_of_workers_out_of_range_is_refused(tmp_path, capsys, command, workers):
    target = ["--supergraph", "supergraph.graphql"] if command == "serve" else []
    config = [] if command == "serve" else ["--config", str(embedded(tmp_path))]
    assert main([command, *target, "--workers", workers, *config]) == 2
    assert "--workers: a whole number from 1 to 64" in capsys.readouterr().err


def test_a_malformed_number_of_workers_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["run", "--workers", "two"])
    assert stopped.value.code == 2 and "invalid int value" in capsys.readouterr().err


def test_serve_with_two_workers_answers_from_two_processes(tmp_path):
    """The bare router has no store to share: its workers need nothing more than the port."""
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            *("-m", "gateway.cli", "serve"),
            *("--supergraph", str(REPOSITORY / "bench" / "supergraph.graphql")),
            *("--port", str(port), "--workers", "2"),
        ],
        cwd=tmp_path,  # the supergraph's path reaches the workers whatever their directory
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                answer = httpx.post(
                    f"http://127.0.0.1:{port}/graphql",
                    json={"query": "{ __typename }"},
                    timeout=2.0,
                )
                workers = [pid for pid in children(process.pid) if b"spawn_main" in cmdline(pid)]
                if answer.status_code == 200 and len(workers) == 2:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()[-2000:]
            time.sleep(0.3)
        assert answer.json() == {"data": {"__typename": "Query"}}
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def children(parent: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == parent:
                        found.append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    return found


def cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as text:
            return text.read()
    except OSError:
        return b""
