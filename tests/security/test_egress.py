"""What leaves the gateway and what comes back: cursors, subgraph headers, masked failures.

The gateway runs in this process behind Starlette's TestClient (the real app, its lifespan and
its configuration) in front of the reference backends as processes on loopback, so each test
can read the ERP client's request counter and breaker while it talks HTTP to the API. A
remote subgraph (a small strawberry federation schema behind uvicorn on loopback) joins the
built-in ones and records the headers of every request it receives.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import strawberry
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from starlette.testclient import TestClient
from strawberry.asgi import GraphQL

from gateway.app import create_app
from gateway.config import GatewayConfig
from gateway.runtime import GatewayRuntime
from policies.identity import InvalidIdentity, verify_identity
from resolvers.errors import error_mask
from system_apis.context import correlation_scope
from tests.sandbox_processes import Sandbox, free_port
from tests.security.conftest import fill_orders_read_model

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
        fill_orders_read_model(client)
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


# -- what a remote subgraph receives -----------------------------------------------------------

IDENTITY_KEY = "egress-test-identity-secret-0123456789"
ECHO = "{ echoHeaders { name value } }"


@strawberry.type
class ReceivedHeader:
    name: str
    value: str


class EchoSubgraph:
    """A remote subgraph on a loopback port that records the headers of each request."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.received: list[dict[str, str]] = []
        self.delay_s = delay_s
        received = self.received
        subgraph = self

        @strawberry.type
        class Query:
            @strawberry.field
            async def echo_headers(self, info: strawberry.Info) -> list[ReceivedHeader]:
                headers = dict(info.context["request"].headers)
                if "_service" not in str(info.context["request"].url):
                    received.append(headers)
                await asyncio.sleep(subgraph.delay_s)
                return [ReceivedHeader(name=k, value=v) for k, v in headers.items()]

            @strawberry.field
            def failing(self) -> str | None:
                raise PermissionError(INTERNAL_FAILURE)

        schema = strawberry.federation.Schema(query=Query)
        self.port = free_port()
        config = uvicorn.Config(
            GraphQL(schema), host="127.0.0.1", port=self.port, log_level="error"
        )
        self.server = uvicorn.Server(config)
        self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    def __enter__(self) -> EchoSubgraph:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "echo subgraph did not start"
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def with_echo(
    sandbox: Sandbox,
    directory: Path,
    echo: EchoSubgraph,
    echo_rules: tuple[dict[str, str], ...] = (),
    identity: dict[str, Any] | None = None,
    include_errors: bool | None = None,
    **sections: Any,
) -> TestClient:
    builtin = {name: {"url": f"inproc:resolvers.{name}:schema"} for name in ORDERS_SUBGRAPHS}
    echo_config = {"url": echo.url, "headers": echo_rules, "include_errors": include_errors}
    subgraphs = {**builtin, "echo": echo_config}
    identity = identity or {"algorithm": "HS256", "signing_key": IDENTITY_KEY, "lifetime_s": 60}
    config = gateway_config(sandbox, directory, subgraphs=subgraphs, identity=identity, **sections)
    return TestClient(create_app(config))


ORDERS_SUBGRAPHS = ("orders", "inventory", "shipments", "billing")
INTERNAL_FAILURE = "pool exhausted for postgres://ledger:secret@10.9.8.7:5432/ledger"


@pytest.fixture(scope="module")
def echo() -> Iterator[EchoSubgraph]:
    with EchoSubgraph(delay_s=0.3) as subgraph:
        yield subgraph


@pytest.fixture(scope="module")
def echoing(
    sandbox: Sandbox, echo: EchoSubgraph, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """The gateway with the echo subgraph under the default rules (nothing of the caller's)."""
    with with_echo(sandbox, tmp_path_factory.mktemp("echo"), echo) as client:
        yield client


def echoed(
    client: TestClient, tenant: str = "C-1001", *, bearer: bool = False, **headers: str
) -> dict[str, str]:
    """The headers the echo subgraph saw; the API key goes as X-API-Key or as a bearer token."""
    key = API_KEYS[tenant]
    credential = {"authorization": f"Bearer {key}"} if bearer else {"x-api-key": key}
    response = client.post("/graphql", json={"query": ECHO}, headers={**credential, **headers})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return {h["name"]: h["value"] for h in body["data"]["echoHeaders"]}


def test_no_caller_credential_leaves_for_a_remote_subgraph_by_default(
    echoing: TestClient,
) -> None:
    for bearer in (False, True):
        seen = echoed(echoing, bearer=bearer, cookie="session=secret", **{"x-custom": "kept-home"})
        leaked = {k: v for k, v in seen.items() if API_KEYS["C-1001"] in v or "secret" in v}
        assert not leaked, leaked
        assert "x-api-key" not in seen and "authorization" not in seen and "cookie" not in seen
        assert "x-custom" not in seen


def test_the_identity_token_verifies_carries_the_caller_and_expires(echoing: TestClient) -> None:
    token = echoed(echoing)["x-gateway-identity"]
    identity = verify_identity(token, IDENTITY_KEY, audience="echo")
    assert (identity.client_id, identity.tenant_id, identity.scopes) == (
        "portal-C-1001",
        "C-1001",
        frozenset({"read"}),
    )
    assert 0 < identity.expires_at - time.time() <= 60
    with pytest.raises(InvalidIdentity, match="expired"):
        verify_identity(token, IDENTITY_KEY, audience="echo", now=identity.expires_at + 60)
    with pytest.raises(InvalidIdentity):
        verify_identity(token, IDENTITY_KEY, audience="orders")
    with pytest.raises(InvalidIdentity):
        verify_identity(token, "another-secret-of-at-least-32-chars!!", audience="echo")
    forged = token.rsplit(".", 1)[0] + ".AAAA"
    with pytest.raises(InvalidIdentity):
        verify_identity(forged, IDENTITY_KEY, audience="echo")
    other = echoed(echoing, "C-1002")["x-gateway-identity"]
    assert verify_identity(other, IDENTITY_KEY, audience="echo").tenant_id == "C-1002"


def test_eddsa_identities_verify_with_the_public_keys_the_gateway_serves(
    sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory
) -> None:
    private_pem = (
        Ed25519PrivateKey.generate()
        .private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        .decode()
    )
    identity = {"algorithm": "EdDSA", "signing_key": private_pem}
    directory = tmp_path_factory.mktemp("eddsa")
    with EchoSubgraph() as echo, with_echo(sandbox, directory, echo, identity=identity) as client:
        token = echoed(client, "C-1002")["x-gateway-identity"]
        keys = client.get("/.well-known/jwks.json")  # no credential: it is public
    assert keys.status_code == 200, keys.text
    jwks = keys.json()
    assert [k["kty"] for k in jwks["keys"]] == ["OKP"] and "d" not in jwks["keys"][0]
    caller = verify_identity(token, jwks, audience="echo")
    assert (caller.client_id, caller.tenant_id) == ("portal-C-1002", "C-1002")
    with pytest.raises(InvalidIdentity):
        verify_identity(token, IDENTITY_KEY, audience="echo")  # an HS256 key cannot stand in


def test_trace_and_correlation_ids_reach_the_subgraph(echoing: TestClient) -> None:
    caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    seen = echoed(
        echoing, traceparent=caller, tracestate="vendor=1", **{"x-correlation-id": "portal-77"}
    )
    assert seen["traceparent"] == caller and seen["tracestate"] == "vendor=1"
    assert seen["x-correlation-id"] == "portal-77"
    for bad in ("00-" + "0" * 32 + "-00f067aa0ba902b7-01", "garbage", "ff-" + caller[3:]):
        started = echoed(echoing, traceparent=bad)["traceparent"]
        assert started != bad and started.startswith("00-") and len(started) == 55
    assert "tracestate" not in echoed(echoing, traceparent="nope", tracestate="vendor=1")


def test_concurrent_fetches_share_a_call_per_caller_never_across_tenants(
    echoing: TestClient, echo: EchoSubgraph
) -> None:
    def ask_as(tenant: str) -> str:
        return echoed(echoing, tenant)["x-gateway-identity"]

    echo.received.clear()
    with ThreadPoolExecutor(max_workers=6) as pool:
        tokens = list(pool.map(ask_as, ["C-1001", "C-1002"] * 3))
    tenants = {
        verify_identity(h["x-gateway-identity"], IDENTITY_KEY, audience="echo").tenant_id
        for h in echo.received
    }
    assert tenants == {"C-1001", "C-1002"}
    assert len(set(tokens)) == 2, "one token per caller, reused while fresh"
    assert 2 <= len(echo.received) < 6, f"{len(echo.received)} calls for 6 identical queries"


def test_each_header_rule_kind_works(
    sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory
) -> None:
    shared = {"all": [{"propagate": "x-request-source"}, {"insert": "x-via", "value": "gw"}]}
    own = (
        {"propagate": "x-partner-ref", "rename": "x-ref"},
        {"propagate": "x-locale", "default": "en"},
        {"insert": "x-caller", "value": "logistics-gateway"},
        {"remove": "x-via"},
        {"propagate": "authorization"},
    )
    directory = tmp_path_factory.mktemp("rules")
    with EchoSubgraph() as echo, with_echo(sandbox, directory, echo, own, headers=shared) as client:
        seen = echoed(
            client,
            bearer=True,
            **{"x-request-source": "portal", "x-partner-ref": "R-9", "x-custom": "no"},
        )
    assert seen["x-request-source"] == "portal"
    assert seen["x-ref"] == "R-9" and "x-partner-ref" not in seen
    assert seen["x-locale"] == "en"
    assert seen["x-caller"] == "logistics-gateway"
    assert "x-via" not in seen and "x-custom" not in seen
    assert seen["authorization"] == f"Bearer {API_KEYS['C-1001']}", "sent when a rule says so"


def test_a_subgraph_that_refuses_connections_is_a_masked_error_with_details_in_the_log(
    sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        EchoSubgraph() as echo,
        with_echo(sandbox, tmp_path_factory.mktemp("down"), echo) as client,
    ):
        echo.stop()
        with caplog.at_level(logging.WARNING, logger="federation.router.subgraphs"):
            response = client.post(
                "/graphql",
                json={"query": ECHO},
                headers={"X-API-Key": API_KEYS["C-1001"], "X-Correlation-ID": "down-42"},
            )
    assert response.status_code == 200
    body = response.text
    error = response.json()["errors"][0]
    assert error["message"] == "The echo service is unavailable."
    assert error["extensions"]["code"] == "SUBGRAPH_UNAVAILABLE"
    for internal in ("127.0.0.1", str(echo.port), "Connect", "Errno", "http://"):
        assert internal not in body, f"{internal!r} leaked: {body}"
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert f"127.0.0.1:{echo.port}" in logged and "down-42" in logged, logged


def test_invalid_header_rules_stop_the_start_naming_the_key() -> None:
    from gateway.config import ConfigError, load_config

    cases = {
        'headers = [{ propagate = "host" }]': "subgraphs.partner.headers.0",
        'headers = [{ insert = "x-a" }]': "subgraphs.partner.headers.0",
        'headers = [{ remove = "x-a", propagate = "x-b" }]': "subgraphs.partner.headers.0",
        'headers = [{ propagate = "bad name" }]': "subgraphs.partner.headers.0",
        'headers = [{ insert = "x-a", value = "a\\r\\nb" }]': "subgraphs.partner.headers.0",
    }
    for rules, key in cases.items():
        path = Path(f"/tmp/egress-rules-{abs(hash(rules))}.toml")
        path.write_text(f'[subgraphs.partner]\nurl = "http://127.0.0.1:9/graphql"\n{rules}\n')
        try:
            with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
                load_config(path)
        finally:
            path.unlink()


def test_an_unexpected_resolver_failure_is_a_coded_mask_and_a_log_line_with_the_correlation_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    @strawberry.type
    class Query:
        @strawberry.field
        def broken(self) -> str | None:
            raise RuntimeError("db at 10.0.0.5:5432 refused the connection")

    schema = strawberry.federation.Schema(query=Query, extensions=[error_mask])
    with correlation_scope("mask-7"), caplog.at_level(logging.ERROR, logger="resolvers"):
        result = schema.execute_sync("{ broken }")
    [error] = result.errors or []
    assert error.formatted["message"] == "Unexpected error."
    assert error.formatted["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert "10.0.0.5" not in str(error.formatted)
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "resolvers")
    assert "10.0.0.5:5432" in logged and "mask-7" in logged, logged


@pytest.mark.parametrize(("include_errors", "passed_on"), [(None, False), (True, True)])
def test_a_remote_subgraphs_error_text_stays_in_the_log_unless_the_subgraph_is_trusted(
    sandbox: Sandbox,
    echo: EchoSubgraph,
    tmp_path_factory: pytest.TempPathFactory,
    caplog: pytest.LogCaptureFixture,
    include_errors: bool | None,
    passed_on: bool,
) -> None:
    with (
        with_echo(
            sandbox, tmp_path_factory.mktemp("errors"), echo, include_errors=include_errors
        ) as client,
        caplog.at_level(logging.WARNING, logger="federation.router.subgraphs"),
    ):
        response = client.post(
            "/graphql",
            json={"query": "{ failing }"},
            headers={"X-API-Key": API_KEYS["C-1001"], "X-Correlation-ID": "failing-7"},
        )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["data"] == {"failing": None}
    (error,) = answer["errors"]
    assert error["path"] == ["failing"]
    if passed_on:
        assert error["message"] == INTERNAL_FAILURE
        return
    assert error["message"] == 'Subgraph "echo" returned an error.'
    assert error["extensions"]["serviceName"] == "echo"
    for internal in ("10.9.8.7", "secret", "postgres://"):
        assert internal not in response.text, f"{internal!r} leaked: {response.text}"
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert INTERNAL_FAILURE in logged and "failing-7" in logged, logged
