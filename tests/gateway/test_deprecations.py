"""Deprecations: every one carries a reason, and each client's use of one is counted, on every
transport, readable at /admin/deprecations and in the log, and added up over processes."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from graphql import build_schema
from websockets.asyncio.client import connect

from federation.composition import compose_from_config
from federation.composition.changes import deprecated_elements
from federation.router.streaming import StreamShutdown
from gateway.app import create_app
from tests.conftest import fresh_postgres_database
from tests.federation.streams import Served, serving
from tests.gateway.conftest import RunningGateway, gateway_process
from tests.sandbox_processes import free_port
from tests.security.conftest import API_KEYS, client_settings, digest, gateway_config

ROOT = Path(__file__).resolve().parents[2]
OTHER_TENANT_KEY = "key-for-the-portal-of-c1002"
LIVE = '{ shipment(trackingNumber: "TRK-1") { trackingNumber live } }'
DEFAULT_REASON = "No longer supported"
MIN_REASON_LENGTH = 20


def reasons_wanting(sdl: str) -> list[str]:
    """The deprecated coordinates whose reason says nothing a client can act on."""
    return sorted(
        f"{coordinate}: {reason!r}"
        for coordinate, reason in deprecated_elements(build_schema(sdl))
        if reason.strip() == DEFAULT_REASON or len(reason.strip()) < MIN_REASON_LENGTH
    )


def test_every_deprecation_in_the_composed_schema_says_why() -> None:
    api_sdl = compose_from_config(ROOT / "subgraphs.toml").api_schema_sdl
    assert list(deprecated_elements(build_schema(api_sdl))), "the API has a deprecated field"
    assert reasons_wanting(api_sdl) == []


def test_the_reason_check_catches_a_default_or_empty_reason() -> None:
    sdl = """
    type Query {
      a: Int @deprecated
      b: Int @deprecated(reason: "")
      c(x: Int @deprecated(reason: "old")): Int
      d: E
      e: Int @deprecated(reason: "Use a: it counts the same thing, in whole units.")
    }
    enum E { ON OFF @deprecated(reason: "No longer supported") }
    """
    assert reasons_wanting(sdl) == [
        "E.OFF: 'No longer supported'",
        "Query.a: 'No longer supported'",
        "Query.b: ''",
        "Query.c(x:): 'old'",
    ]


# -- counting, in one process --------------------------------------------------------------------


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    clients = client_settings()
    clients["other-tenant"] = {"tenant": "C-1002", "api_key_sha256": digest(OTHER_TENANT_KEY)}
    config = gateway_config(
        tmp_path_factory.mktemp("deprecations"),
        clients=clients,
        deprecations={"flush_interval_s": 60},
    )
    shutdown = StreamShutdown()
    with serving(create_app(config, shutdown=shutdown), shutdown) as served:
        yield served


def admin(gateway: Served, key: str | None = API_KEYS["operations"], **params: Any):
    headers = {"x-api-key": key} if key else {}
    return httpx.get(
        f"http://127.0.0.1:{gateway.port}/admin/deprecations", params=params, headers=headers
    )


def uses_of(gateway: Served, client: str) -> dict[str, int]:
    answer = admin(gateway, client=client)
    assert answer.status_code == 200, answer.text
    return {use["coordinate"]: use["count"] for use in answer.json()["uses"]}


async def over_websocket(gateway: Served, key: str) -> None:
    """A query and a subscription selecting Shipment.live over graphql-transport-ws."""
    async with connect(gateway.ws, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]

        async def send(message: dict[str, Any]) -> None:
            await socket.send(orjson.dumps(message).decode())

        async def receive() -> dict[str, Any]:
            return orjson.loads(await asyncio.wait_for(socket.recv(), 10))

        await send({"type": "connection_init", "payload": {"x-api-key": key}})
        assert (await receive())["type"] == "connection_ack"
        await send({"id": "q", "type": "subscribe", "payload": {"query": LIVE}})
        assert (await receive())["payload"]["data"] == {"shipment": None}
        assert await receive() == {"id": "q", "type": "complete"}
        subscription = (
            'subscription { shipmentUpdated(trackingNumber: "TRK-1") { shipment { live } } }'
        )
        await send({"id": "s", "type": "subscribe", "payload": {"query": subscription}})
        await asyncio.sleep(0.3)
        await send({"id": "s", "type": "complete"})


def test_each_clients_uses_are_counted_on_every_transport(gateway: Served) -> None:
    portal = {"x-api-key": API_KEYS["portal"]}
    with httpx.Client(timeout=30) as http:
        for _ in range(2):
            assert http.post(gateway.http, json={"query": LIVE}, headers=portal).status_code == 200
        assert http.get(gateway.http, params={"query": LIVE}, headers=portal).status_code == 200
        with http.stream(
            "POST",
            gateway.http,
            json={"query": LIVE},
            headers={**portal, "accept": "text/event-stream"},
        ) as sse:
            assert "shipment" in sse.read().decode()
        multipart = http.post(
            gateway.http,
            json={"query": LIVE},
            headers={
                **portal,
                "accept": 'multipart/mixed;subscriptionSpec="1.0", application/json',
            },
        )
        assert multipart.json() == {"data": {"shipment": None}}
        other = {"x-api-key": OTHER_TENANT_KEY}
        assert http.post(gateway.http, json={"query": LIVE}, headers=other).status_code == 200
        plain = '{ shipment(trackingNumber: "TRK-1") { trackingNumber } }'
        ops = {"x-api-key": API_KEYS["operations"]}
        assert http.post(gateway.http, json={"query": plain}, headers=ops).status_code == 200
    asyncio.run(over_websocket(gateway, API_KEYS["portal"]))

    assert uses_of(gateway, "portal") == {"Shipment.live": 7}
    assert uses_of(gateway, "other-tenant") == {"Shipment.live": 1}
    assert uses_of(gateway, "operations") == {}
    listed = admin(gateway).json()
    assert listed["deprecated"] == [
        {
            "coordinate": "Shipment.live",
            "reason": "Shipments are answered from the read models, never live.",
        }
    ]
    portal_use = next(u for u in listed["uses"] if u["client"] == "portal")
    assert portal_use["tenant"] == "C-1001"
    assert portal_use["first_seen"] <= portal_use["last_seen"]


def test_a_refused_operation_is_not_counted(gateway: Served) -> None:
    before = uses_of(gateway, "other-tenant").get("Shipment.live", 0)
    refused = httpx.post(
        gateway.http,
        json={"query": '{ shipment(trackingNumber: "TRK-1") { live nope } }'},
        headers={"x-api-key": OTHER_TENANT_KEY},
    )
    assert refused.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert uses_of(gateway, "other-tenant").get("Shipment.live", 0) == before


def test_an_anonymous_caller_cannot_read_the_uses(gateway: Served) -> None:
    response = admin(gateway, None)
    assert response.status_code == 401


@pytest.mark.parametrize("key", [API_KEYS["portal"], OTHER_TENANT_KEY])
def test_a_client_without_the_admin_scope_cannot_read_the_uses(gateway: Served, key: str) -> None:
    response = admin(gateway, key, client="portal")
    assert response.status_code == 403
    assert response.json()["message"] == "the admin scope is required"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": "0"}, "limit must be a whole number from 1 to 1000"),
        ({"limit": "1001"}, "limit must be a whole number from 1 to 1000"),
        ({"limit": "ten"}, "limit must be a whole number from 1 to 1000"),
        ({"limit": "9" * 5000}, "limit must be a whole number from 1 to 1000"),
        ({"client": "c" * 201}, "client must be 1 to 200 printable characters"),
        ({"client": ""}, "client must be 1 to 200 printable characters"),
        ({"coordinate": "Shipment.\nlive"}, "coordinate must be 1 to 400 printable characters"),
    ],
)
def test_malformed_or_oversized_parameters_are_refused(
    gateway: Served, params: dict[str, str], message: str
) -> None:
    response = admin(gateway, **params)
    assert response.status_code == 400
    assert response.json() == {"error": "bad_request", "message": message}


def test_an_unknown_client_has_no_uses(gateway: Served) -> None:
    assert uses_of(gateway, "no-such-client") == {}


def test_the_largest_page_is_bounded(gateway: Served) -> None:
    """An expensive question: every use there is, asked at the largest page size."""
    response = admin(gateway, limit="1000")
    assert response.status_code == 200
    assert len(response.json()["uses"]) <= 1000


# -- several processes ---------------------------------------------------------------------------

PORTAL_KEY = "key-for-the-portal-of-c1001"
ADMIN_KEY = "key-for-operations"


def _config(path: Path, port: int, database_url: str) -> None:
    path.write_text(
        f"""
[server]
host = "127.0.0.1"
port = {port}

[stores]
database_url = "{database_url}"

[polling]
enabled = false

[deprecations]
flush_interval_s = 0.2

[clients.portal-c1001]
tenant = "C-1001"
api_key_sha256 = "{hashlib.sha256(PORTAL_KEY.encode()).hexdigest()}"

[clients.operations]
tenant = "C-1001"
api_key_sha256 = "{hashlib.sha256(ADMIN_KEY.encode()).hexdigest()}"
scopes = ["read", "admin"]
"""
    )


@pytest.fixture(scope="module")
def two_gateways(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RunningGateway]]:
    with fresh_postgres_database() as database, ExitStack() as stack:
        running = []
        for name in ("first", "second"):
            directory = tmp_path_factory.mktemp(name)
            port = free_port()
            _config(directory / "gateway.toml", port, database)
            running.append(stack.enter_context(gateway_process(directory / "gateway.toml", port)))
        yield running


def test_uses_through_several_processes_add_up_and_are_logged(
    two_gateways: list[RunningGateway],
) -> None:
    for gateway in two_gateways:
        for _ in range(2):
            answer = httpx.post(
                gateway.graphql_url(), json={"query": LIVE}, headers={"x-api-key": PORTAL_KEY}
            )
            assert answer.status_code == 200, answer.text
    deadline = time.monotonic() + 30
    while True:
        listed = httpx.get(
            f"{two_gateways[0].url}/admin/deprecations",
            params={"client": "portal-c1001"},
            headers={"x-api-key": ADMIN_KEY},
        ).json()["uses"]
        if listed and listed[0]["count"] == 4:
            break
        assert time.monotonic() < deadline, f"the processes' uses did not add up: {listed}"
        time.sleep(0.2)
    lines = [
        json.loads(line) for line in two_gateways[1].log.read_text().splitlines() if "{" in line[:1]
    ]
    logged = [line for line in lines if line.get("deprecated")]
    assert logged, "a first use is one log line"
    assert logged[0]["deprecated"] == ["Shipment.live"]
    assert logged[0]["client"] == "portal-c1001" and logged[0]["tenant"] == "C-1001"
    assert logged[0]["correlation_id"]
