"""The gateway's demand control and persisted operations as callers meet them: plans' cost
budgets, `extensions.cost` for operators, `GET /admin/costs`, automatic persisted queries and
clients held to registered operations, with every subgraph call of the router counted."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from bench.abuse import CountingTransport
from federation.router.persisted import APOLLO_FORMAT
from gateway.config import ConfigError, GatewayConfig, load_config
from tests.security.conftest import API_KEYS, client_settings, digest

GRAPHQL_RESPONSE = "application/graphql-response+json"
PARTNER_KEY = "key-for-the-partner-on-basic"
INTEGRATION_KEY = "key-for-the-registered-only-integration"
OTHER_TENANT_KEY = "key-for-the-portal-of-c1002"
EXPENSIVE = "{ orders(first: 100) { orders { id shipments { milestones { status } } } } }"
"""100 orders x (1 + 5 shipments x (1 + 30 milestones)) = 15,601: over basic's 5,000."""
CHEAP = "{ orders(first: 5) { orders { id status } } }"
TRUSTED = "query MyOrders { orders(first: 3) { orders { id } } }"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def clients(**extra: dict[str, Any]) -> dict[str, dict[str, Any]]:
    settings: dict[str, dict[str, Any]] = client_settings()
    settings["partner"] = {
        "tenant": "C-1002",
        "api_key_sha256": digest(PARTNER_KEY),
        "plan": "basic",
    }
    settings["other-portal"] = {"tenant": "C-1002", "api_key_sha256": digest(OTHER_TENANT_KEY)}
    settings.update(extra)
    return settings


def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "persisted-queries.json"
    operations = [{"id": "my-orders", "body": TRUSTED, "name": "MyOrders", "type": "query"}]
    path.write_bytes(
        orjson.dumps({"format": APOLLO_FORMAT, "version": 1, "operations": operations})
    )
    return path


class Gateway:
    """The app in process, its router's subgraph calls counted."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        router = client.app_state["runtime"].router
        self.transports = {
            name: CountingTransport(transport) for name, transport in router.transports.items()
        }
        router.transports.update(self.transports)

    @property
    def subgraph_calls(self) -> int:
        return sum(transport.calls for transport in self.transports.values())

    def post(self, key: str | None, body: dict[str, Any], accept: str = GRAPHQL_RESPONSE) -> Any:
        headers = {"accept": accept}
        if key is not None:
            headers["x-api-key"] = key
        return self.client.post("/graphql", json=body, headers=headers)

    def get(self, key: str | None, path: str = "/graphql", **params: Any) -> Any:
        headers = {"accept": GRAPHQL_RESPONSE}
        if key is not None:
            headers["x-api-key"] = key
        encoded = {
            name: value if isinstance(value, str) else orjson.dumps(value).decode()
            for name, value in params.items()
        }
        return self.client.get(path, params=encoded, headers=headers)


@pytest.fixture
def gateway(open_gateway: Any) -> Gateway:
    return Gateway(open_gateway(clients=clients()))


# -- budgets per plan ------------------------------------------------------------------------


def test_a_partner_on_the_basic_plan_is_refused_an_operation_over_its_budget(
    gateway: Gateway,
) -> None:
    refused = gateway.post(PARTNER_KEY, {"query": EXPENSIVE})
    assert refused.status_code == 400
    (error,) = refused.json()["errors"]
    assert error["extensions"] == {
        "code": "COST_ESTIMATED_TOO_EXPENSIVE",
        "cost.estimated": 15_601,
        "cost.max": 5000,
    }
    assert error["message"] == (
        "The operation's estimated cost 15601 exceeds the maximum of 5000 (plans.basic.max_cost)."
    )
    assert gateway.subgraph_calls == 0
    within = gateway.post(API_KEYS["portal"], {"query": EXPENSIVE})
    assert within.status_code == 200 and "errors" not in within.json(), "standard: 50,000"
    assert gateway.subgraph_calls > 0


def test_variables_are_costed_per_request(gateway: Gateway) -> None:
    query = EXPENSIVE.replace("{ orders(first: 100)", "query($n: Int!) { orders(first: $n)")
    assert gateway.post(PARTNER_KEY, {"query": query, "variables": {"n": 10}}).status_code == 200
    calls = gateway.subgraph_calls
    refused = gateway.post(PARTNER_KEY, {"query": query, "variables": {"n": 40}})
    assert refused.json()["errors"][0]["extensions"]["cost.estimated"] == 1 + 40 * 156
    assert gateway.subgraph_calls == calls


def test_the_budget_holds_over_get_and_websocket(gateway: Gateway) -> None:
    refused = gateway.get(PARTNER_KEY, query=EXPENSIVE)
    assert refused.json()["errors"][0]["extensions"]["code"] == "COST_ESTIMATED_TOO_EXPENSIVE"
    with gateway.client.websocket_connect(
        "/graphql",
        subprotocols=["graphql-transport-ws"],
        headers={"x-api-key": PARTNER_KEY},
    ) as ws:
        ws.send_json({"type": "connection_init"})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": EXPENSIVE}})
        message = ws.receive_json()
        assert message["type"] == "error"
        assert message["payload"][0]["extensions"]["code"] == "COST_ESTIMATED_TOO_EXPENSIVE"
        ws.close()
    assert gateway.subgraph_calls == 0


def test_the_admin_scope_sees_the_cost_of_its_operations_and_others_do_not(
    gateway: Gateway,
) -> None:
    admin = gateway.post(API_KEYS["operations"], {"query": CHEAP}).json()
    assert admin["extensions"]["cost"] == {
        "estimated": 1 + 5,
        "actual": 1,
        "max": 50_000,
        "result": "COST_OK",
    }, "no orders in the read model: only the page came back"
    portal = gateway.post(API_KEYS["portal"], {"query": CHEAP}).json()
    assert "extensions" not in portal


@pytest.mark.parametrize(("expose", "portal_sees"), [("everyone", True), ("nobody", False)])
def test_who_sees_costs_is_configured(open_gateway: Any, expose: str, portal_sees: bool) -> None:
    gateway = Gateway(open_gateway(clients=clients(), demand_control={"expose": expose}))
    answer = gateway.post(API_KEYS["portal"], {"query": CHEAP}).json()
    assert ("cost" in answer.get("extensions", {})) is portal_sees
    admin = gateway.post(API_KEYS["operations"], {"query": CHEAP}).json()
    assert ("cost" in admin.get("extensions", {})) is (expose == "everyone")


def test_measure_mode_counts_without_refusing(open_gateway: Any) -> None:
    gateway = Gateway(open_gateway(clients=clients(), demand_control={"mode": "measure"}))
    assert gateway.post(PARTNER_KEY, {"query": EXPENSIVE}).status_code == 200
    listing = gateway.get(API_KEYS["operations"], "/admin/costs").json()["operations"]
    (partner,) = [entry for entry in listing if entry["client"] == "partner"]
    assert partner["estimated"]["last"] == 15_601 and partner["max_cost"] is None


def test_demand_control_off_computes_nothing(open_gateway: Any) -> None:
    gateway = Gateway(open_gateway(clients=clients(), demand_control={"enabled": False}))
    assert gateway.post(PARTNER_KEY, {"query": EXPENSIVE}).status_code == 200
    assert "extensions" not in gateway.post(API_KEYS["operations"], {"query": CHEAP}).json()
    assert gateway.get(API_KEYS["operations"], "/admin/costs").json()["operations"] == []


def test_a_refusal_and_optionally_every_operation_is_a_log_line(
    open_gateway: Any, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = Gateway(open_gateway(clients=clients(), demand_control={"log_operations": True}))
    with caplog.at_level(logging.INFO, logger="policies.demand"):
        gateway.post(PARTNER_KEY, {"query": EXPENSIVE})
        gateway.post(API_KEYS["portal"], {"query": CHEAP})
    lines = [r for r in caplog.records if r.name == "policies.demand"]
    assert [(r.code, r.cost_estimated, r.cost_actual) for r in lines] == [  # type: ignore[attr-defined]
        ("COST_ESTIMATED_TOO_EXPENSIVE", 15_601, None),
        ("COST_OK", 6, 1),
    ]


# -- /admin/costs ----------------------------------------------------------------------------


def test_operators_read_estimated_and_actual_costs_per_client_and_operation(
    gateway: Gateway,
) -> None:
    named = "query Cheap " + CHEAP
    for _ in range(3):
        gateway.post(API_KEYS["portal"], {"query": named})
    gateway.post(PARTNER_KEY, {"query": EXPENSIVE})
    listing = gateway.get(API_KEYS["operations"], "/admin/costs")
    assert listing.status_code == 200
    operations = listing.json()["operations"]
    partner, portal = operations[0], operations[1]
    assert (partner["client"], partner["runs"], partner["refused"]) == ("partner", 0, 1)
    assert partner["last_result"] == "COST_ESTIMATED_TOO_EXPENSIVE"
    assert (portal["client"], portal["operation"], portal["runs"]) == ("portal", "Cheap", 3)
    assert portal["estimated"] == {"last": 6, "max": 6, "mean": 6.0}
    assert portal["actual"] == {"last": 1, "max": 1, "mean": 1.0}
    assert portal["actual_to_estimated"] == round(1 / 6, 4)
    only = gateway.get(API_KEYS["operations"], "/admin/costs", client="partner").json()
    assert [entry["client"] for entry in only["operations"]] == ["partner"]
    limited = gateway.get(API_KEYS["operations"], "/admin/costs", limit="1").json()
    assert len(limited["operations"]) == 1


@pytest.mark.parametrize(
    ("key", "params", "status"),
    [
        (None, {}, 401),
        ("portal", {}, 403),
        ("other-portal", {"client": "portal"}, 403),
        ("operations", {"limit": "0"}, 400),
        ("operations", {"limit": "1" * 400}, 400),
        ("operations", {"limit": "-5"}, 400),
        ("operations", {"client": "x" * 5000}, 400),
        ("operations", {"client": "a b"}, 400),
        ("operations", {"sort": "cost"}, 400),
    ],
)
def test_the_cost_listing_refuses_callers_and_inputs_it_must(
    gateway: Gateway, key: str | None, params: dict[str, str], status: int
) -> None:
    keys = {**API_KEYS, "other-portal": OTHER_TENANT_KEY}
    answered = gateway.get(keys[key] if key else None, "/admin/costs", **params)
    assert answered.status_code == status
    assert "operations" not in answered.json()


# -- persisted operations through the gateway ------------------------------------------------


def test_apq_needs_a_key_and_then_works_over_post_and_get(gateway: Gateway) -> None:
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256(CHEAP)}}
    assert gateway.get(None, extensions=extensions).status_code == 401
    assert gateway.post(None, {"query": CHEAP, "extensions": extensions}).status_code == 401
    missing = gateway.get(API_KEYS["portal"], extensions=extensions).json()
    assert missing["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    gateway.post(API_KEYS["portal"], {"query": CHEAP, "extensions": extensions})
    by_hash = gateway.get(API_KEYS["portal"], extensions=extensions)
    assert by_hash.status_code == 200 and by_hash.json()["data"]["orders"]["orders"] == []


def test_another_tenant_running_a_persisted_query_gets_its_own_data_only(
    open_gateway: Any, tmp_path: Path
) -> None:
    gateway = Gateway(open_gateway(clients=clients()))
    query = "{ me { id } orders(first: 2) { orders { id } } }"
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256(query)}}
    gateway.post(API_KEYS["portal"], {"query": query, "extensions": extensions})
    theirs = gateway.post(OTHER_TENANT_KEY, {"extensions": extensions}).json()
    assert "C-1001" not in orjson.dumps(theirs).decode()
    assert theirs["data"]["orders"] == {"orders": []}


def test_a_registered_only_client_runs_the_manifests_operations_only(
    open_gateway: Any, tmp_path: Path
) -> None:
    settings = clients(
        integration={
            "tenant": "C-1001",
            "api_key_sha256": digest(INTEGRATION_KEY),
            "registered_operations_only": True,
        }
    )
    gateway = Gateway(
        open_gateway(clients=settings, persisted_queries={"manifests": [str(manifest(tmp_path))]})
    )
    assert gateway.post(INTEGRATION_KEY, {"documentId": "my-orders"}).json()["data"]["orders"]
    assert gateway.post(INTEGRATION_KEY, {"query": TRUSTED}).status_code == 200
    calls = gateway.subgraph_calls
    refused = gateway.post(INTEGRATION_KEY, {"query": CHEAP})
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"
    assert gateway.subgraph_calls == calls
    assert gateway.post(API_KEYS["portal"], {"query": CHEAP}).status_code == 200, "others may"


# -- configuration ---------------------------------------------------------------------------


def test_a_bad_manifest_stops_the_start_naming_the_key_the_file_and_the_entry(
    tmp_path: Path,
) -> None:
    path = tmp_path / "persisted.json"
    body = "{ me { id } }" + " " * (2 * 1024 * 1024)
    path.write_bytes(
        orjson.dumps(
            {"format": APOLLO_FORMAT, "version": 1, "operations": [{"id": "big", "body": body}]}
        )
    )
    config = tmp_path / "gateway.toml"
    config.write_text(f'[persisted_queries]\nmanifests = ["{path}"]\n')
    with pytest.raises(ConfigError) as refused:
        load_config(config)
    message = str(refused.value)
    assert "persisted_queries.manifests" in message and str(path) in message
    assert "operations[0] ('big')" in message and "limits.max_document_length" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[plans.basic]\nmax_cost = 0\n", "plans.basic.max_cost"),
        ("[plans.basic]\nmax_cost = 'lots'\n", "plans.basic.max_cost"),
        ("[demand_control]\nlist_size = -1\n", "demand_control.list_size"),
        ("[demand_control]\nmode = 'strict'\n", "demand_control.mode"),
        ("[demand_control]\nexpose = 'partners'\n", "demand_control.expose"),
        ("[demand_control]\nrecent_operations = 0\n", "demand_control.recent_operations"),
        ("[persisted_queries]\napq_ttl_s = 0\n", "persisted_queries.apq_ttl_s"),
        ("[persisted_queries]\nmanifests = 'one.json'\n", "persisted_queries.manifests"),
        (
            "[clients.x]\ntenant = 'C-1'\napi_key_sha256 = '" + "0" * 64 + "'\n"
            "registered_operations_only = true\n",
            "clients.x.registered_operations_only needs trusted documents",
        ),
    ],
)
def test_bad_demand_and_persisted_settings_stop_the_start(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=expected.replace(".", r"\.")):
        load_config(path)


def test_defaults_give_each_plan_a_budget() -> None:
    plans = GatewayConfig().plans
    assert {name: plan.max_cost for name, plan in plans.items()} == {
        "standard": 50_000,
        "basic": 5_000,
        "premium": 100_000,
    }


def test_a_persisted_query_over_get_is_http_cacheable(open_gateway: Any) -> None:
    gateway = Gateway(open_gateway(clients=clients(), cache={"enabled": True}))
    query = "{ orders(first: 2) { orders { id } } }"
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256(query)}}
    missing = gateway.get(API_KEYS["portal"], extensions=extensions)
    assert "no-cache" in missing.headers["cache-control"], "a miss is never cached"
    gateway.post(API_KEYS["portal"], {"query": query, "extensions": extensions})
    first = gateway.get(API_KEYS["portal"], extensions=extensions)
    assert first.status_code == 200 and "max-age" in first.headers["cache-control"]
    etag = first.headers["etag"]
    again = gateway.client.get(
        "/graphql",
        params={"extensions": orjson.dumps(extensions).decode()},
        headers={"x-api-key": API_KEYS["portal"], "if-none-match": etag},
    )
    assert again.status_code == 304 and again.content == b""
