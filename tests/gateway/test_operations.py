"""What an operator relies on: `/health` says alive, `/ready` says what each dependency is doing,
and the log is one JSON object a line naming the request it belongs to."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import GatewayConfig
from tests.gateway.conftest import RunningGateway, callers_requests, running_gateway
from tests.sandbox_processes import Sandbox, free_port


def ready_when_settled(gateway: RunningGateway) -> httpx.Response:
    """`/ready` once the breakers earlier tests opened have closed again (0.5 s in the tests)."""
    deadline = time.monotonic() + 5.0
    while True:
        answer = httpx.get(f"{gateway.url}/ready", timeout=5.0)
        if answer.json()["status"] == "ok" or time.monotonic() > deadline:
            return answer
        httpx.post(  # a call through each breaker lets a half-open one close
            gateway.graphql_url(),
            json={"query": "{ me { id } orders(first: 1) { orders { shipments { carrier } } } }"},
            headers={"X-API-Key": gateway.api_key("C-1001")},
            timeout=10.0,
        )
        time.sleep(0.3)


def test_health_says_alive_without_asking_any_dependency(
    gateway: RunningGateway, clean_faults: Sandbox
):
    clean_faults.set_faults("erp", outage=True)
    clean_faults.set_faults("tms", outage=True)
    clean_faults.clear_requests()
    started = time.monotonic()
    answer = httpx.get(f"{gateway.url}/health", timeout=5.0)
    elapsed = time.monotonic() - started
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}
    assert elapsed < 0.5, f"/health took {elapsed:.3f}s"
    assert callers_requests(clean_faults, "erp") == callers_requests(clean_faults, "tms") == []


def test_ready_lists_every_backend_store_and_subgraph(clean_faults: Sandbox, tmp_path: Path):
    """A gateway of its own: portal reads come from the read models, so no request of the
    settling loop passes the carriers' and the TMS's breakers that other tests opened."""
    with running_gateway(clean_faults, tmp_path) as gateway:
        answer = ready_when_settled(gateway)
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "ok", body
    assert set(body["backends"]) == set(clean_faults.urls())
    assert all(b == {"state": "ok", "breaker": "closed"} for b in body["backends"].values())
    assert body["stores"] == {name: {"state": "ok"} for name in ("cache", "database", "event_log")}
    assert body["subgraphs"] == {
        name: {"state": "ok"}
        for name in (
            "billing",
            "inventory",
            "live",
            "orders",
            "returns",
            "shipments",
            "warehouse",
            "workflows",
        )
    }


def test_ready_is_degraded_not_failed_while_a_breaker_is_open(
    gateway: RunningGateway, clean_faults: Sandbox
):
    ready_when_settled(gateway)
    clean_faults.set_faults("erp", outage=True)  # `me` is asked of the ERP on every call
    for _ in range(4):
        httpx.post(
            gateway.graphql_url(),
            json={"query": "{ me { name } }"},
            headers={"X-API-Key": gateway.api_key("C-1001")},
            timeout=10.0,
        )
    answer = httpx.get(f"{gateway.url}/ready", timeout=5.0)
    assert answer.status_code == 200, "one backend down must not take the gateway out of service"
    body = answer.json()
    assert body["status"] == "degraded"
    assert body["backends"]["erp"]["state"] == "degraded"
    # open, or half open when the test configuration's 0.5 s reset has passed meanwhile
    assert body["backends"]["erp"]["breaker"] in ("open", "half_open"), body
    assert body["backends"]["wms"]["state"] == "ok"


def test_ready_is_unavailable_when_the_database_does_not_answer(tmp_path: Path):
    database = tmp_path / "gateway.sqlite3"
    config = GatewayConfig(
        server={"port": free_port()},
        stores={
            "database_url": f"sqlite+aiosqlite:///{database}",
            "cache": f"redis://127.0.0.1:{free_port()}/0",
        },
        polling={"enabled": False},
    )
    with TestClient(create_app(config)) as client:
        degraded = client.get("/ready").json()
        with sqlite3.connect(database) as connection:
            connection.execute("ALTER TABLE poll_cursors RENAME TO poll_cursors_away")
        broken = client.get("/ready")
        alive = client.get("/health")
    assert degraded["status"] == "degraded", degraded
    assert degraded["stores"]["cache"] == {"state": "down"}
    assert broken.status_code == 503
    assert broken.json()["status"] == "unavailable"
    assert broken.json()["stores"]["database"] == {"state": "down"}
    assert alive.status_code == 200


def log_lines(gateway: RunningGateway, start: int = 0) -> list[dict[str, Any]]:
    text = gateway.log.read_text(errors="replace")[start:]
    lines = [line for line in text.splitlines() if line.strip()]
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"not a JSON log line: {line[:300]}") from None
    return parsed


def test_log_lines_are_json_with_correlation_client_and_tenant_and_no_traceback(
    gateway: RunningGateway, clean_faults: Sandbox
):
    assert log_lines(gateway), "the gateway logged its start"
    start = gateway.log.stat().st_size
    clean_faults.set_faults("erp", outage=True)
    answer = httpx.post(
        gateway.graphql_url(),
        json={"query": "{ me { id } }"},
        headers={"X-API-Key": gateway.api_key("C-1001"), "X-Correlation-ID": "log-probe-7"},
        timeout=10.0,
    )
    assert answer.json()["errors"][0]["extensions"]["code"] == "BACKEND_UNAVAILABLE"
    deadline = time.monotonic() + 5.0
    while True:
        mine = [line for line in log_lines(gateway, start) if line.get("correlation_id")]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    probe = [line for line in mine if line["correlation_id"] == "log-probe-7"]
    assert all(line["client"] == "portal-c1001" and line["tenant"] == "C-1001" for line in probe), (
        probe
    )
    coded = [line for line in probe if line.get("code") == "BACKEND_UNAVAILABLE"]
    assert len(coded) == 1, probe
    assert coded[0]["level"] == "warning" and "exception" not in coded[0]
    assert "Traceback" not in gateway.log.read_text(errors="replace")[start:]
