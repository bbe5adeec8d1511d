"""The run command of the README: backends and gateway come up together on the configured ports,
print the keys a newcomer needs with what each may do, and go down together."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx

from gateway.config import DEMO_CLIENTS
from gateway.oauth_config import DEMO_OAUTH_CLIENTS
from tests.gateway.conftest import READ_MODEL_WAIT_S
from tests.sandbox_processes import BACKENDS, free_port


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.3)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_demo_serves_on_the_configured_ports_prints_its_keys_and_stops_its_backends(tmp_path):
    port = free_port()
    backend_ports = {name: free_port() for name in BACKENDS}
    environment = {
        **os.environ,
        "LG_SERVER__PORT": str(port),
        "LG_STORES__DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'gateway.sqlite3'}",
        **{
            f"LG_BACKENDS__{name.upper()}__URL": f"http://127.0.0.1:{backend_port}"
            for name, backend_port in backend_ports.items()
        },
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "demo", "--state-dir", str(tmp_path / "sandbox")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=environment,
        text=True,
    )
    try:
        banner: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()  # type: ignore[union-attr]
            banner.append(line)
            if line.startswith("Ctrl-C stops the gateway") or not line:
                break
        printed = "".join(banner)
        assert f"GraphiQL: http://127.0.0.1:{port}/graphiql" in printed, printed
        assert f"Ops dashboard: http://127.0.0.1:{port}/ops" in printed, printed
        for name, client in DEMO_CLIENTS.items():
            assert f"{client.api_key}" in printed and name in printed, printed
            assert client.may in printed, printed
        for client_id, oauth in DEMO_OAUTH_CLIENTS.items():
            assert f"client id {client_id}   secret {oauth.secret}" in printed, printed
            assert f"(tenant {oauth.tenant}, plan {oauth.plan}, scopes read)" in printed, printed
            assert f"curl -s -u {client_id}:{oauth.secret} -d grant_type=client_credentials " in (
                printed
            )
            assert f"http://127.0.0.1:{port}/oauth/token" in printed, printed
        assert all(listening(p) for p in backend_ports.values()), "backends on their ports"

        def ask(key: str, query: str) -> httpx.Response:
            return httpx.post(
                f"http://127.0.0.1:{port}/graphql",
                json={"query": query},
                headers={"X-API-Key": key},
                timeout=10,
            )

        answer = None
        while time.monotonic() < deadline:
            try:
                answer = ask(DEMO_CLIENTS["portal-c1001"].api_key, "{ me { id } }")
                break
            except httpx.ConnectError:
                time.sleep(0.2)
        assert answer is not None and answer.status_code == 200, answer
        assert answer.json()["data"]["me"]["id"] == "C-1001"
        partner = ask(DEMO_CLIENTS["partner-c1002"].api_key, "{ me { id } }")
        assert partner.json()["data"]["me"]["id"] == "C-1002"
        client_id, oauth = next(iter(DEMO_OAUTH_CLIENTS.items()))
        issued = httpx.post(
            f"http://127.0.0.1:{port}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id, oauth.secret),
            timeout=10,
        )
        assert issued.status_code == 200, issued.text
        with_token = httpx.post(
            f"http://127.0.0.1:{port}/graphql",
            json={"query": "{ me { id } }"},
            headers={"Authorization": f"Bearer {issued.json()['access_token']}"},
            timeout=10,
        )
        assert with_token.json()["data"]["me"]["id"] == oauth.tenant, with_token.text
        stocked = time.monotonic() + READ_MODEL_WAIT_S  # the first sweep of the WMS fills it
        while True:
            stock = ask(
                DEMO_CLIENTS["warehouse-app"].api_key,
                '{ inventory(sku: "MAT-0001", first: 1) { positions { bin } } }',
            )
            if stock.json()["data"]["inventory"]["positions"] or time.monotonic() > stocked:
                break
            time.sleep(0.2)
        assert stock.json()["data"]["inventory"]["positions"], stock.text
        letters = f"http://127.0.0.1:{port}/admin/dead-letters"
        admin = httpx.get(letters, headers={"X-API-Key": DEMO_CLIENTS["operations"].api_key})
        portal = httpx.get(letters, headers={"X-API-Key": DEMO_CLIENTS["portal-c1001"].api_key})
        assert (admin.status_code, portal.status_code) == (200, 403)
    finally:
        process.send_signal(signal.SIGTERM)
        # streams drain (5 s), background work is cut short (5 s), the backends stop (10 s)
        process.wait(timeout=40)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(listening(p) for p in backend_ports.values()):
        time.sleep(0.2)
    assert not any(listening(p) for p in backend_ports.values()), "the backends outlived the demo"
