"""One authentication decision: only allowlisted routes are open, however a request is spelled.

Each probe goes through HTTP (or a WebSocket upgrade) to the real app. The reference point is
the percent-encoded parameter name (`%71uery=`) that once passed the API-key middleware, which
read the raw query string, and was executed by the handler, which decodes it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from gateway.app import create_app
from tests.security.conftest import API_KEYS, gateway_config

BASE = "http://testserver"
QUERY = "{ __typename }"
PORTAL = {"X-API-Key": API_KEYS["portal"]}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with TestClient(create_app(gateway_config(tmp_path_factory.mktemp("authn")))) as client:
        yield client


def assert_refused(response, reason: str = "") -> None:
    assert response.status_code == 401, (response.status_code, response.text[:300])
    if response.request.method != "HEAD":
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "UNAUTHENTICATED"
        assert reason in error["message"]
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_an_encoded_parameter_name_is_executed_only_with_a_key(gateway: TestClient):
    url = f"{BASE}/graphql?%71uery=%7B%20__typename%20%7D"
    accept = {"Accept": "text/html, application/json"}
    assert_refused(gateway.get(url, headers=accept), "API key is required")
    answered = gateway.get(url, headers={**accept, **PORTAL})
    assert answered.status_code == 200 and answered.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize(
    "query_string",
    [
        "query={ __typename }&query={ __typename }",
        "query=&query={ __typename }",
        "%71uery={ __typename }&query=",
        "query={ __typename }&%71%75%65%72%79={ __typename }",
    ],
)
def test_repeated_parameters_need_a_key(gateway: TestClient, query_string: str):
    assert_refused(gateway.get(f"{BASE}/graphql?{query_string}", headers={"Accept": "text/html"}))


@pytest.mark.parametrize(
    "accept",
    [
        "text/html",
        "text/html, application/json",
        "application/json;q=0.9, text/html",
        "text/html;q=0, application/graphql-response+json",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "*/*",
        "",
    ],
)
@pytest.mark.parametrize("query_string", ["", "?query={ __typename }", "?%71uery={ __typename }"])
def test_no_accept_header_opens_the_graphql_endpoint(
    gateway: TestClient, accept: str, query_string: str
):
    assert_refused(gateway.get(f"{BASE}/graphql{query_string}", headers={"Accept": accept}))


def test_a_post_needs_a_key_whatever_it_accepts(gateway: TestClient):
    refused = gateway.post("/graphql", json={"query": QUERY}, headers={"Accept": "text/html"})
    assert_refused(refused)
    answered = gateway.post("/graphql", json={"query": QUERY}, headers=PORTAL)
    assert answered.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize(
    "path",
    [
        "/graphql/",
        "//graphql",
        "/GraphQL",
        "/%67raphql",
        "/graphql;x",
        "/graphql?",
        "/graphql%2F",
        "/graphql/graphiql",
        "/graphiql/",
        "/health/",
        "/healthz",
        "/webhooks/wms/extra",
        "/webhooks/wms%2F..%2F..%2Fgraphql",
        "/admin/dead-letters",
        "/no/such/route",
        "/",
    ],
)
@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
def test_path_variants_and_unknown_paths_need_a_key(gateway: TestClient, path: str, method: str):
    response = gateway.request(method, f"{BASE}{path}", headers={"Accept": "text/html"})
    assert_refused(response)


def test_an_encoded_path_reaches_the_endpoint_only_with_a_key(gateway: TestClient):
    answered = gateway.get(f"{BASE}/%67raphql?query={QUERY}", headers=PORTAL)
    assert answered.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("path", ["/graphql", "/admin/dead-letters", "/nowhere"])
def test_head_needs_a_key(gateway: TestClient, path: str):
    assert_refused(gateway.head(path, headers={"Accept": "text/html"}))


@pytest.mark.parametrize("path", ["/health", "/graphiql"])
def test_the_allowlisted_pages_answer_get_and_head_without_a_key(gateway: TestClient, path: str):
    assert gateway.get(path).status_code == 200
    assert gateway.head(path).status_code == 200


def test_an_allowlisted_path_with_another_method_needs_a_key(gateway: TestClient):
    assert_refused(gateway.post("/graphiql", json={"query": QUERY}))
    assert_refused(gateway.post("/health"))


def test_the_graphiql_page_is_not_served_at_the_graphql_endpoint(gateway: TestClient):
    answered = gateway.get("/graphql", headers={"Accept": "text/html", **PORTAL})
    assert "text/html" not in answered.headers.get("content-type", "")


def test_a_webhook_is_judged_by_its_own_signature_not_by_an_api_key(gateway: TestClient):
    response = gateway.post("/webhooks/wms", content=b"{}")
    assert response.status_code == 401
    assert response.json()["error"] == "unauthenticated"  # the webhook's own answer


def test_a_websocket_upgrade_elsewhere_needs_a_key(gateway: TestClient):
    for path in ("/nowhere", "/graphql/", "/health"):
        upgrade = gateway.websocket_connect(path, subprotocols=["graphql-transport-ws"])
        with pytest.raises(WebSocketDenialResponse) as denied, upgrade:
            pass
        assert denied.value.status_code == 401
        assert denied.value.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_a_graphql_websocket_without_a_key_is_closed_at_connection_init(gateway: TestClient):
    # Browsers cannot set headers on a WebSocket: the key may come in connection_init.
    with gateway.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as socket:
        socket.send_json({"type": "connection_init"})
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
    assert closed.value.code == 4401


def test_a_graphql_websocket_with_a_wrong_key_is_refused_at_the_upgrade(gateway: TestClient):
    headers = {"X-API-Key": "not-a-key"}
    upgrade = gateway.websocket_connect("/graphql", headers=headers)
    with pytest.raises(WebSocketDenialResponse) as denied, upgrade:
        pass
    assert denied.value.status_code == 401


def test_a_websocket_upgrade_with_a_key_is_acknowledged(gateway: TestClient):
    upgrade = gateway.websocket_connect(
        "/graphql", headers=PORTAL, subprotocols=["graphql-transport-ws"]
    )
    with upgrade as socket:
        socket.send_json({"type": "connection_init"})
        assert socket.receive_json() == {"type": "connection_ack"}
        socket.send_json({"type": "done"})  # the server closes: the app has ended on exit
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
    assert closed.value.code == 4400


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "API key is required"),
        ({"X-API-Key": ""}, "API key is required"),
        ({"X-API-Key": "   "}, "API key is required"),
        ({"Authorization": "Bearer "}, "API key is required"),
        ({"Authorization": "Basic " + "dXNlcjpwYXNz"}, "API key is required"),
        ({"X-API-Key": "not-a-key"}, "invalid API key"),
        ({"Authorization": "Bearer not-a-key"}, "invalid API key"),
        ({"X-API-Key": API_KEYS["portal"] + " x"}, "invalid API key"),
        (
            {"X-API-Key": API_KEYS["portal"], "Authorization": "Bearer not-a-key"},
            "more than one API key",
        ),
        (
            [("x-api-key", API_KEYS["portal"]), ("x-api-key", API_KEYS["operations"])],
            "more than one API key",
        ),
    ],
)
def test_missing_empty_invalid_or_conflicting_keys_are_refused(gateway, headers, reason):
    assert_refused(gateway.post("/graphql", json={"query": QUERY}, headers=headers), reason)


@pytest.mark.parametrize(
    "headers",
    [
        {"X-API-Key": API_KEYS["portal"]},
        {"x-api-key": f"  {API_KEYS['portal']}  "},
        {"Authorization": f"Bearer {API_KEYS['portal']}"},
        {"Authorization": f"bearer {API_KEYS['portal']}"},
        {"Authorization": f"ApiKey {API_KEYS['portal']}"},
        {"X-API-Key": API_KEYS["portal"], "Authorization": f"Bearer {API_KEYS['portal']}"},
    ],
)
def test_either_header_form_authenticates(gateway: TestClient, headers):
    answered = gateway.post("/graphql", json={"query": QUERY}, headers=headers)
    assert answered.status_code == 200 and answered.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize(
    ("path", "headers"),
    [("/health", {}), ("/graphql", {}), ("/nowhere", PORTAL), (f"/graphql?query={QUERY}", PORTAL)],
)
def test_every_answer_forbids_content_sniffing(gateway: TestClient, path: str, headers):
    assert gateway.get(path, headers=headers).headers["x-content-type-options"] == "nosniff"
