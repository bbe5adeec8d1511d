"""What leaves the gateway and what comes back: cursors, subgraph headers, masked failures.

The gateway runs in this process behind Starlette's TestClient (the real app, its lifespan and
its configuration) in front of the reference backends as processes on loopback, so each test
can read the ERP client's request counter and breaker while it talks HTTP to the API.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import GatewayConfig
from gateway.runtime import GatewayRuntime
from tests.sandbox_processes import Sandbox

API_KEYS = {"C-1001": "egress-key-c1001", "C-1002": "egress-key-c1002"}
ORDERS_PAGE = """query($after: String) {
  orders(first: 3, after: $after) { orders { id customerId } nextCursor }
}"""


def gateway_config(sandbox: Sandbox, directory: Path, **sections: Any) -> GatewayConfig:
    """The product's configuration for a test: sandbox backends, a strict ERP breaker."""
    backends = {
        name: {"url": url, "max_retries": 1, "breaker_failure_threshold": 2, "timeout_s": 2.0}
        for name, url in sandbox.urls().items()
    }
    clients = {
        f"portal-{tenant}": {
            "tenant": tenant,
            "api_key_sha256": hashlib.sha256(key.encode()).hexdigest(),
            "scopes": ["read"],
        }
        for tenant, key in API_KEYS.items()
    }
    return GatewayConfig(
        stores={"database_url": f"sqlite+aiosqlite:///{directory / 'gateway.sqlite3'}"},
        backends=backends,
        polling={"enabled": False},
        clients=clients,
        cursors={"signing_key": "egress-test-cursor-signing-key"},
        **sections,
    )


@pytest.fixture(scope="module")
def portal(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    config = gateway_config(sandbox, tmp_path_factory.mktemp("egress"))
    with TestClient(create_app(config)) as client:
        yield client


def runtime_of(client: TestClient) -> GatewayRuntime:
    return client.app_state["runtime"]


def ask(client: TestClient, tenant: str, query: str, **variables: Any) -> dict[str, Any]:
    response = client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"X-API-Key": API_KEYS[tenant]},
    )
    assert response.status_code == 200, response.text
    return response.json()


def erp_calls(client: TestClient) -> int:
    return runtime_of(client).clients.erp.backend.requests_sent


# -- cursors ---------------------------------------------------------------------------------


def test_a_cursor_handed_back_unchanged_pages_on(portal: TestClient) -> None:
    first = ask(portal, "C-1001", ORDERS_PAGE)["data"]["orders"]
    cursor = first["nextCursor"]
    assert cursor and cursor.startswith("v1.")
    second = ask(portal, "C-1001", ORDERS_PAGE, after=cursor)
    assert "errors" not in second, second
    seen = {o["id"] for o in first["orders"]}
    following = {o["id"] for o in second["data"]["orders"]["orders"]}
    assert following and not seen & following


def _backend_token(value: str) -> str:
    """A token in the ERP's own page-token format, as an attacker would craft one."""
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def _tampered(cursor: str) -> str:
    version, _, signature = cursor.split(".")
    return f"{version}.{_backend_token('p:99999999999999999999999')}.{signature}"


def test_forged_corrupted_and_foreign_cursors_are_the_callers_error_and_reach_no_backend(
    portal: TestClient,
) -> None:
    own = ask(portal, "C-1001", ORDERS_PAGE)["data"]["orders"]["nextCursor"]
    foreign = ask(portal, "C-1002", ORDERS_PAGE)["data"]["orders"]["nextCursor"]
    refused = {
        "ERP token as is": _backend_token("p:99999999999999999999999"),
        "ERP token of a page": _backend_token("p:3"),
        "edited inner token": _tampered(own),
        "one character changed": own[:-2] + ("A" if own[-2] != "A" else "B") + own[-1],
        "truncated": own[:-5],
        "another tenant's": foreign,
        "signature of nothing": "v1..",
        "not base64": "v1.!!!.???",
        "empty": "",
        "very long": "v1." + "A" * 5000 + ".x",
    }
    before = erp_calls(portal)
    for name, cursor in refused.items():
        answer = ask(portal, "C-1001", ORDERS_PAGE, after=cursor)
        assert answer["data"] in (None, {"orders": None}), name
        [error] = answer["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (name, error)
        assert "after" in error["message"] and "cursor" in error["message"], name
    assert erp_calls(portal) == before, "a refused cursor reached the ERP"


def test_a_burst_of_callers_mistakes_leaves_the_erp_open_for_every_tenant(
    portal: TestClient,
) -> None:
    breaker = runtime_of(portal).clients.erp.backend.breaker
    failures = breaker.snapshot().total_failures
    for attempt in range(6):
        crafted = _backend_token(f"p:{10**25 + attempt}")
        ask(portal, "C-1001", ORDERS_PAGE, after=crafted)
        missing = ask(portal, "C-1001", '{ order(id: "NO-SUCH-ORDER") { id } }')
        assert missing["data"] == {"order": None}, missing
    assert breaker.snapshot().state.value == "closed"
    assert breaker.snapshot().total_failures == failures
    other = ask(portal, "C-1002", ORDERS_PAGE)
    assert "errors" not in other and other["data"]["orders"]["orders"], other
