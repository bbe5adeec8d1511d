"""Contracts through the gateway: a partner bound to the partner contract sees only what the
subgraphs tag for partners, over HTTP (POST, GET), WebSocket, SSE and multipart alike; a
portal sees the whole API. The app runs under uvicorn on loopback with its own SQLite store."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.testclient import TestClient
from websockets.asyncio.client import connect

from federation.router.streaming import StreamShutdown
from gateway.app import create_app
from gateway.config import ConfigError, GatewayConfig, load_config
from gateway.oauth_config import DEMO_OAUTH_CLIENTS
from tests.federation.streams import Served, serving
from tests.security.conftest import API_KEYS, client_settings, digest, gateway_config

ROOT = Path(__file__).resolve().parents[2]
PARTNER_KEY = "key-for-the-partner-of-c1002"
GRAPHQL_RESPONSE = "application/graphql-response+json"
RETURNS = "{ returns(first: 1) { returns { id } } }"
ORDERS = "{ orders(first: 1) { orders { id status shipments { trackingNumber } } } }"


def clients() -> dict[str, dict[str, object]]:
    settings = client_settings()
    settings["partner"] = {
        "tenant": "C-1002",
        "api_key_sha256": digest(PARTNER_KEY),
        "plan": "basic",
        "rate_limits": ["100000/minute"],  # the tests below send more than a partner's plan
        "contract": "partner",
    }
    return settings


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    demo = DEMO_OAUTH_CLIENTS["demo-partner-c1002"]
    oauth_client = {"tenant": "C-1002", "secret_hash": demo.secret_hash, "plan": "basic"}
    config = gateway_config(
        tmp_path_factory.mktemp("contracts"),
        clients=clients(),
        oauth_clients={
            "oauth-partner": {**oauth_client, "contract": "partner"},
            "oauth-integrator": oauth_client,
        },
    )
    shutdown = StreamShutdown()
    with serving(create_app(config, shutdown=shutdown), shutdown) as served:
        yield served


def post(gateway: Served, key: str | None, query: str, **extra: Any) -> httpx.Response:
    headers = {"accept": GRAPHQL_RESPONSE}
    if key is not None:
        headers["x-api-key"] = key
    return httpx.post(gateway.http, json={"query": query, **extra}, headers=headers, timeout=30)


def unknown_field(answer: dict[str, Any], field: str, on: str) -> None:
    (error,) = answer["errors"]
    assert error["message"] == f"Cannot query field '{field}' on type '{on}'."
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "data" not in answer


def test_a_partner_asking_outside_its_contract_fails_validation(gateway: Served) -> None:
    response = post(gateway, PARTNER_KEY, RETURNS)
    assert response.status_code == 400
    unknown_field(response.json(), "returns", "Query")


def oauth_token(gateway: Served, client_id: str, secret: str) -> str:
    response = httpx.post(
        f"http://127.0.0.1:{gateway.port}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def test_a_partner_with_an_oauth_token_is_held_to_its_clients_contract(gateway: Served) -> None:
    secret = DEMO_OAUTH_CLIENTS["demo-partner-c1002"].secret
    token = oauth_token(gateway, "oauth-partner", secret)
    headers = {"authorization": f"Bearer {token}", "accept": GRAPHQL_RESPONSE}
    refused = httpx.post(gateway.http, json={"query": RETURNS}, headers=headers)
    assert refused.status_code == 400
    unknown_field(refused.json(), "returns", "Query")
    allowed = httpx.post(gateway.http, json={"query": ORDERS}, headers=headers)
    assert allowed.json() == {"data": {"orders": {"orders": []}}}
    unbound = oauth_token(gateway, "oauth-integrator", secret)
    answer = httpx.post(
        gateway.http, json={"query": RETURNS}, headers={"authorization": f"Bearer {unbound}"}
    ).json()
    assert "returns" in answer["data"], "a client bound to no contract sees the whole API"


def test_a_partner_reads_what_its_contract_holds(gateway: Served) -> None:
    response = post(gateway, PARTNER_KEY, ORDERS)
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"orders": {"orders": []}}}


def test_the_same_operation_is_valid_for_a_portal(gateway: Served) -> None:
    answer = post(gateway, API_KEYS["portal"], RETURNS).json()
    assert all(
        e.get("extensions", {}).get("code") != "GRAPHQL_VALIDATION_FAILED"
        for e in answer.get("errors", [])
    )
    assert "returns" in answer["data"]


@pytest.mark.parametrize(
    ("query", "field", "on"),
    [
        ('{ order(id: "SO-1") { id returns { id } } }', "returns", "Order"),
        ('{ inventory(sku: "SKU-1") { positions { onHand } } }', "inventory", "Query"),
        ('{ workflow(id: "w") { id } }', "workflow", "Query"),
        ('{ order(id: "SO-1") { lines { item { stock { onHand } } } } }', "stock", "Item"),
    ],
)
def test_fields_not_tagged_for_partners_do_not_exist_for_them(
    gateway: Served, query: str, field: str, on: str
) -> None:
    response = post(gateway, PARTNER_KEY, query)
    assert response.status_code == 400
    unknown_field(response.json(), field, on)


def test_warehouse_writes_and_other_mutations_do_not_exist_for_a_partner(gateway: Served) -> None:
    mutation = (
        'mutation { confirmPick(taskId: "T-1", idempotencyKey: "k-12345678") { __typename } }'
    )
    response = post(gateway, PARTNER_KEY, mutation)
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["message"] == "The mutation operation is not supported by the schema."


def test_introspection_shows_a_partner_the_contract_schema(gateway: Served) -> None:
    query = "{ __schema { mutationType { name } types { name } } }"
    partner = post(gateway, PARTNER_KEY, query).json()["data"]["__schema"]
    portal = post(gateway, API_KEYS["portal"], query).json()["data"]["__schema"]
    partner_types = {t["name"] for t in partner["types"]}
    portal_types = {t["name"] for t in portal["types"]}
    assert partner["mutationType"] is None and portal["mutationType"] == {"name": "Mutation"}
    assert {"Order", "Shipment", "Invoice", "ShipmentUpdate"} <= partner_types
    assert not partner_types & {"ReturnAuthorization", "InventoryPosition", "Workflow", "BinStock"}
    assert partner_types < portal_types


def test_a_get_request_is_held_to_the_contract(gateway: Served) -> None:
    response = httpx.get(
        gateway.http,
        params={"query": RETURNS},
        headers={"x-api-key": PARTNER_KEY, "accept": GRAPHQL_RESPONSE},
    )
    assert response.status_code == 400
    unknown_field(response.json(), "returns", "Query")


def test_a_multipart_request_is_held_to_the_contract(gateway: Served) -> None:
    def multipart(query: str) -> httpx.Response:
        return httpx.post(
            gateway.http,
            json={"query": query},
            headers={
                "x-api-key": PARTNER_KEY,
                "accept": 'multipart/mixed;subscriptionSpec="1.0", application/json',
            },
            timeout=30,
        )

    refused = multipart(RETURNS).text
    assert "Cannot query field 'returns' on type 'Query'." in refused
    assert "GRAPHQL_VALIDATION_FAILED" in refused
    assert multipart(ORDERS).json() == {"data": {"orders": {"orders": []}}}


def test_an_sse_subscription_outside_the_contract_is_refused(gateway: Served) -> None:
    with httpx.stream(
        "POST",
        gateway.http,
        json={"query": 'subscription { inventoryChanged(sku: "SKU-1") { eventId } }'},
        headers={"x-api-key": PARTNER_KEY, "accept": "text/event-stream"},
        timeout=10,
    ) as response:
        body = response.read().decode()
    data = next(line for line in body.splitlines() if line.startswith("data:"))
    unknown_field(orjson.loads(data[5:]), "inventoryChanged", "Subscription")


async def websocket_operations(gateway: Served, key: str, *queries: str) -> list[dict[str, Any]]:
    """Each query's first answer over one graphql-transport-ws connection."""
    async with connect(gateway.ws, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        await socket.send(
            orjson.dumps({"type": "connection_init", "payload": {"x-api-key": key}}).decode()
        )
        assert orjson.loads(await asyncio.wait_for(socket.recv(), 10))["type"] == "connection_ack"
        answers = []
        for number, query in enumerate(queries):
            await socket.send(
                orjson.dumps(
                    {"id": str(number), "type": "subscribe", "payload": {"query": query}}
                ).decode()
            )
            while True:
                message = orjson.loads(await asyncio.wait_for(socket.recv(), 10))
                if message.get("id") == str(number) and message["type"] != "complete":
                    answers.append(message)
                    break
        return answers


async def test_websocket_operations_are_held_to_the_contract(gateway: Served) -> None:
    refused_query, refused_subscription, allowed, started = await websocket_operations(
        gateway,
        PARTNER_KEY,
        RETURNS,
        'subscription { inventoryChanged(sku: "SKU-1") { eventId } }',
        ORDERS,
        "subscription { shipmentUpdated { eventId } }",
    )
    assert refused_query["type"] == "error"
    unknown_field({"errors": refused_query["payload"]}, "returns", "Query")
    assert refused_subscription["type"] == "error"
    unknown_field({"errors": refused_subscription["payload"]}, "inventoryChanged", "Subscription")
    assert allowed["payload"] == {"data": {"orders": {"orders": []}}}
    # Valid for the contract: the subscription reaches its resolver, which wants an argument.
    assert started["payload"]["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_portal_subscribes_to_what_a_partner_may_not(gateway: Served) -> None:
    (answer,) = await websocket_operations(
        gateway,
        API_KEYS["portal"],
        'subscription { inventoryChanged(sku: "bad sku!") { eventId } }',
    )
    assert answer["payload"]["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_an_anonymous_caller_gets_no_schema_at_all(gateway: Served) -> None:
    response = post(gateway, None, "{ __schema { types { name } } }")
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_a_partner_reads_nothing_of_another_tenant(gateway: Served) -> None:
    """The contract narrows the schema; the tenant rule still holds inside it."""
    response = post(
        gateway, PARTNER_KEY, '{ order(id: "SO-OF-C1001") { id } invoice(id: "INV-1") { id } }'
    )
    answer = response.json()
    assert answer["data"]["order"] is None


def test_a_huge_document_is_refused_by_the_limits_before_the_contract(gateway: Served) -> None:
    response = post(gateway, PARTNER_KEY, "{ " + "returns " * 5000 + "}")
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "OPERATION_LIMIT_EXCEEDED"


def test_many_distinct_documents_outside_the_contract_are_each_refused(gateway: Served) -> None:
    """An expensive caller: a thousand different refused documents, each answered alike."""
    with httpx.Client(timeout=30) as http:
        for n in range(1000):
            response = http.post(
                gateway.http,
                json={"query": f"{{ a{n}: returns(first: 1) {{ nextCursor }} }}"},
                headers={"x-api-key": PARTNER_KEY, "accept": GRAPHQL_RESPONSE},
            )
            assert response.status_code == 400, response.text
            assert "Cannot query field 'returns'" in response.text


# -- configuration -------------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[clients.p]\ntenant = "C-1"\napi_key_sha256 = "' + "a" * 64 + '"\ncontract = "nope"\n',
            "clients.p.contract names 'nope', which [contracts] does not define (defined: partner)",
        ),
        ("[contracts.partner]\ninclude_tags = []\n", "contracts.partner"),
        ('[contracts.x]\ninclude_tags = ["a b"]\n', "contracts.x.include_tags"),
        (
            '[contracts.x]\ninclude_tags = ["a"]\nexclude_tags = ["a"]\n',
            "both included and excluded",
        ),
        (
            '[oauth_clients.p]\ntenant = "C-1"\nsecret_hash = "'
            + DEMO_OAUTH_CLIENTS["demo-partner-c1002"].secret_hash
            + '"\ncontract = "nope"\n',
            "oauth_clients.p.contract names 'nope', which [contracts] does not define",
        ),
        ('[contracts."bad name"]\nexclude_tags = ["a"]\n', "a contract name is 1 to 64"),
        ('[contracts.x]\nexclude_tags = ["a"]\nhide = true\n', "contracts.x.hide: unknown key"),
        (
            "[contracts.x]\nexclude_tags = [" + ", ".join(f'"t{n}"' for n in range(101)) + "]\n",
            "contracts.x.exclude_tags",
        ),
        ('[contracts.x]\nexclude_tags = ["' + "t" * 129 + '"]\n', "contracts.x.exclude_tags"),
    ],
)
def test_a_bad_contract_configuration_stops_the_start_naming_the_key(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(write(tmp_path, text))
    assert message in str(refused.value)


def test_a_contract_leaving_no_query_field_stops_the_start(tmp_path: Path) -> None:
    config = gateway_config(tmp_path, contracts={"empty": {"include_tags": ["nothing-tagged"]}})
    with (
        pytest.raises(ConfigError, match=r"contracts\.empty: the contract leaves no Query field"),
        TestClient(create_app(config)),
    ):
        pass


def test_the_demo_partners_are_bound_to_the_partner_contract() -> None:
    defaults = GatewayConfig()
    assert defaults.clients["partner-c1002"].contract == "partner"
    assert all(c.contract is None for n, c in defaults.clients.items() if n != "partner-c1002")
    assert defaults.client_contracts() == {
        "partner-c1002": "partner",
        "demo-partner-c1002": "partner",
    }


# -- schema print --------------------------------------------------------------------------------


def schema_print(*arguments: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "schema", "print", *arguments],
        cwd=cwd,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_schema_print_prints_a_contract_and_the_whole_api(tmp_path: Path) -> None:
    partner = schema_print("--contract", "partner", cwd=tmp_path)
    assert partner.returncode == 0, partner.stderr
    assert "type Order {" in partner.stdout and "type Subscription {" in partner.stdout
    assert "ReturnAuthorization" not in partner.stdout and "type Mutation" not in partner.stdout
    whole = schema_print(cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr
    assert whole.stdout.strip() == (ROOT / "schema.graphql").read_text().strip()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("--contract", "nobody"), "no contract 'nobody' in [contracts] (defined: partner)"),
        (("--contract", "x" * 10_000), "no contract 'xxxxxxxx"),
        (("--config", "missing.toml"), "configuration file not found"),
    ],
)
def test_schema_print_refuses_an_unknown_contract_or_configuration(
    tmp_path: Path, arguments: tuple[str, ...], message: str
) -> None:
    printed = schema_print(*arguments, cwd=tmp_path)
    assert printed.returncode == 2
    assert message in printed.stderr
    assert "Traceback" not in printed.stderr
