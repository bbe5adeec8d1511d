"""The gateway's OAuth 2.0 endpoints, from a partner's side: client credentials, revocation,
introspection, the published keys and metadata, and the tokens used on GraphQL.

The product app runs in process (SQLite store) with the embedded demo partner client and a
client configured by the test; a client issued at run time comes from `/admin/keys`.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from gateway.app import create_app
from gateway.oauth_config import DEMO_OAUTH_CLIENTS
from policies.oauth_clients import hash_secret
from tests.security.conftest import API_KEYS, gateway_config
from tests.security.token_issuer import b64

QUERY = {"query": "{ __typename }"}
DEMO_ID = "demo-partner-c1002"
DEMO_SECRET = DEMO_OAUTH_CLIENTS[DEMO_ID].secret
OTHER_ID, OTHER_SECRET = "carrier-portal", "a secret someone chose"
OPERATIONS = {"X-API-Key": API_KEYS["operations"]}
FORM = "application/x-www-form-urlencoded"


OAUTH_CLIENTS = {
    DEMO_ID: {
        "tenant": "C-1002",
        "secret_hash": DEMO_OAUTH_CLIENTS[DEMO_ID].secret_hash,
        "scopes": ["read"],
        "plan": "basic",
    },
    OTHER_ID: {
        "tenant": "C-1001",
        "secret_hash": hash_secret(OTHER_SECRET),
        "scopes": ["read", "write"],
        "plan": "premium",
    },
}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    config = gateway_config(tmp_path_factory.mktemp("oauth"), oauth_clients=OAUTH_CLIENTS)
    with TestClient(create_app(config)) as client:
        yield client


def basic(client_id: str, secret: str) -> dict[str, str]:
    encoded = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


def get_token(gateway: TestClient, client_id: str, secret: str, **form: str):
    return gateway.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", **form},
        headers=basic(client_id, secret),
    )


def token_of(gateway: TestClient, client_id: str = DEMO_ID, secret: str = DEMO_SECRET) -> str:
    response = get_token(gateway, client_id, secret)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claims_of(token: str) -> dict[str, object]:
    import orjson

    body = token.split(".")[1]
    return orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def test_a_partner_gets_a_token_and_queries_with_it(gateway: TestClient):
    response = get_token(gateway, DEMO_ID, DEMO_SECRET)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    issued = response.json()
    assert issued["token_type"] == "Bearer" and issued["expires_in"] == 900
    assert issued["scope"] == "read" and "refresh_token" not in issued
    claims = claims_of(issued["access_token"])
    assert claims["tenant"] == "C-1002" and claims["plan"] == "basic"
    assert claims["client_id"] == DEMO_ID and claims["iss"] == "http://127.0.0.1:8000"
    answered = gateway.post("/graphql", json=QUERY, headers=bearer(issued["access_token"]))
    assert answered.status_code == 200 and answered.json() == {"data": {"__typename": "Query"}}


def test_the_client_may_authenticate_in_the_form(gateway: TestClient):
    response = gateway.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": OTHER_ID,
            "client_secret": OTHER_SECRET,
            "scope": "read",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "read"
    assert claims_of(response.json()["access_token"])["plan"] == "premium"


@pytest.mark.parametrize(
    ("scope", "granted"),
    [(None, "read write"), ("read", "read"), ("write read", "read write")],
)
def test_a_client_gets_the_scopes_it_asks_within_its_own(gateway, scope, granted):
    form = {"scope": scope} if scope else {}
    response = get_token(gateway, OTHER_ID, OTHER_SECRET, **form)
    assert response.status_code == 200 and response.json()["scope"] == granted


@pytest.mark.parametrize("scope", ["admin", "read admin", "read write", "", "   "])
def test_asking_more_than_its_scopes_is_invalid_scope(gateway: TestClient, scope: str):
    response = get_token(gateway, DEMO_ID, DEMO_SECRET, scope=scope)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_scope"


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [
        (DEMO_ID, "wrong"),
        (DEMO_ID, DEMO_SECRET + "x"),
        ("nobody", DEMO_SECRET),
        (OTHER_ID, DEMO_SECRET),
        ("lgc_0123456789ab", "x" * 43),
        (DEMO_ID, "s" * 5000),
    ],
)
def test_a_wrong_client_or_secret_is_invalid_client(gateway, client_id, secret):
    response = get_token(gateway, client_id, secret)
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic")
    assert "access_token" not in response.text


@pytest.mark.parametrize(
    ("data", "headers", "status", "error"),
    [
        (
            "grant_type=client_credentials",
            {"Content-Type": "application/json"},
            400,
            "invalid_request",
        ),
        ("grant_type=password&username=a&password=b", {}, 400, "unsupported_grant_type"),
        ("grant_type=authorization_code&code=x", {}, 400, "unsupported_grant_type"),
        ("", {}, 400, "unsupported_grant_type"),
        ("grant_type=client_credentials&grant_type=client_credentials", {}, 400, "invalid_request"),
        ("grant_type=client_credentials&scope=" + "a" * 9000, {}, 413, "invalid_request"),
        ("&".join(f"f{n}=1" for n in range(40)), {}, 400, "invalid_request"),
        (b"grant_type=client_credentials&scope=\xff", {}, 400, "invalid_request"),
    ],
)
def test_malformed_and_oversized_token_requests_are_refused(gateway, data, headers, status, error):
    response = gateway.post(
        "/oauth/token",
        content=data if isinstance(data, bytes) else data.encode(),
        headers={"Content-Type": FORM, **basic(DEMO_ID, DEMO_SECRET), **headers},
    )
    assert response.status_code == status, response.text
    assert response.json()["error"] == error


def test_two_authentication_methods_at_once_are_refused(gateway: TestClient):
    response = gateway.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_secret": DEMO_SECRET},
        headers=basic(DEMO_ID, DEMO_SECRET),
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_malformed_basic_credentials_are_refused(gateway: TestClient):
    for value in ("Basic !!!", "Basic " + base64.b64encode(b"\xff\xfe:x").decode()):
        response = gateway.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": value},
        )
        assert response.status_code in (400, 401), response.text
        assert response.json()["error"] in ("invalid_request", "invalid_client")


def test_another_method_on_an_oauth_endpoint_is_not_open(gateway: TestClient):
    for path in ("/oauth/token", "/oauth/revoke", "/oauth/introspect"):
        assert gateway.get(path).status_code == 401  # not the public route: a credential needed
    assert gateway.post("/oauth/jwks.json").status_code == 401


def test_revocation_stops_the_token_on_http_and_websocket(gateway: TestClient):
    token = token_of(gateway)
    assert gateway.post("/graphql", json=QUERY, headers=bearer(token)).status_code == 200
    revoked = gateway.post(
        "/oauth/revoke", data={"token": token}, headers=basic(DEMO_ID, DEMO_SECRET)
    )
    assert revoked.status_code == 200, revoked.text
    refused = gateway.post("/graphql", json=QUERY, headers=bearer(token))
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert "the token has been revoked" in refused.headers["www-authenticate"]
    upgrade = gateway.websocket_connect("/graphql", headers=bearer(token))
    with pytest.raises(WebSocketDenialResponse) as denied, upgrade:
        pass
    assert denied.value.status_code == 401
    with gateway.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as socket:
        socket.send_json({"type": "connection_init", "payload": bearer(token)})
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
    assert closed.value.code == 4401
    again = gateway.post(
        "/oauth/revoke", data={"token": token}, headers=basic(DEMO_ID, DEMO_SECRET)
    )
    assert again.status_code == 200  # RFC 7009: revoking a revoked token is no error


def test_a_client_cannot_revoke_another_clients_token(gateway: TestClient):
    token = token_of(gateway)
    response = gateway.post(
        "/oauth/revoke", data={"token": token}, headers=basic(OTHER_ID, OTHER_SECRET)
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert gateway.post("/graphql", json=QUERY, headers=bearer(token)).status_code == 200


@pytest.mark.parametrize("token", ["not-a-token", "a.b.c", "x" * 7000])
def test_revoking_an_unknown_token_answers_200(gateway: TestClient, token: str):
    response = gateway.post(
        "/oauth/revoke", data={"token": token}, headers=basic(DEMO_ID, DEMO_SECRET)
    )
    assert response.status_code == 200


def test_revocation_needs_a_client_and_a_token(gateway: TestClient):
    token = token_of(gateway)
    anonymous = gateway.post("/oauth/revoke", data={"token": token})
    assert anonymous.status_code in (400, 401) and anonymous.json()["error"] == "invalid_client"
    missing = gateway.post("/oauth/revoke", data={}, headers=basic(DEMO_ID, DEMO_SECRET))
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    assert gateway.post("/graphql", json=QUERY, headers=bearer(token)).status_code == 200


def test_introspection_describes_a_token_of_the_callers_tenant_only(gateway: TestClient):
    token = token_of(gateway)
    own = gateway.post(
        "/oauth/introspect", data={"token": token}, headers=basic(DEMO_ID, DEMO_SECRET)
    )
    assert own.status_code == 200, own.text
    described = own.json()
    assert described["active"] is True and described["tenant"] == "C-1002"
    assert described["client_id"] == DEMO_ID and described["scope"] == "read"
    other = gateway.post(
        "/oauth/introspect", data={"token": token}, headers=basic(OTHER_ID, OTHER_SECRET)
    )
    assert other.json() == {"active": False}  # another tenant's token is not described
    anonymous = gateway.post("/oauth/introspect", data={"token": token})
    assert anonymous.json()["error"] == "invalid_client"
    junk = gateway.post(
        "/oauth/introspect", data={"token": "junk"}, headers=basic(DEMO_ID, DEMO_SECRET)
    )
    assert junk.json() == {"active": False}


def test_a_revoked_token_is_inactive_on_introspection(gateway: TestClient):
    token = token_of(gateway)
    gateway.post("/oauth/revoke", data={"token": token}, headers=basic(DEMO_ID, DEMO_SECRET))
    described = gateway.post(
        "/oauth/introspect", data={"token": token}, headers=basic(DEMO_ID, DEMO_SECRET)
    )
    assert described.json() == {"active": False}


def test_the_metadata_and_keys_are_published(gateway: TestClient):
    metadata = gateway.get("/.well-known/oauth-authorization-server").json()
    issuer = "http://127.0.0.1:8000"
    assert metadata["issuer"] == issuer
    assert metadata["token_endpoint"] == f"{issuer}/oauth/token"
    assert metadata["revocation_endpoint"] == f"{issuer}/oauth/revoke"
    assert metadata["introspection_endpoint"] == f"{issuer}/oauth/introspect"
    assert metadata["grant_types_supported"] == ["client_credentials"]
    keys = gateway.get("/oauth/jwks.json").json()["keys"]
    assert [key["alg"] for key in keys] == ["EdDSA"] and "d" not in keys[0]
    token = token_of(gateway)
    header = claims_of(b64(b"{}") + "." + token.split(".")[0] + ".")
    assert header["kid"] == keys[0]["kid"] and header["typ"] == "at+jwt"


def test_a_revoked_oauth_client_loses_its_tokens_and_its_token_endpoint(gateway: TestClient):
    made = gateway.post(
        "/admin/keys",
        json={"kind": "oauth_client", "client": "fleet-partner", "scopes": ["read"]},
        headers=OPERATIONS,
    )
    assert made.status_code == 201, made.text
    client_id, secret = made.json()["client_id"], made.json()["client_secret"]
    assert client_id.startswith("lgc_") and "api_key" not in made.json()
    token = token_of(gateway, client_id, secret)
    claims = claims_of(token)
    assert claims["sub"] == "fleet-partner" and claims["tenant"] == "C-1001"
    assert gateway.post("/graphql", json=QUERY, headers=bearer(token)).status_code == 200
    gone = gateway.delete(f"/admin/keys/{made.json()['key_id']}", headers=OPERATIONS)
    assert gone.status_code == 200 and gone.json()["revoked_at"]
    refused = gateway.post("/graphql", json=QUERY, headers=bearer(token))
    assert refused.status_code == 401
    assert "the client has been revoked" in refused.headers["www-authenticate"]
    assert get_token(gateway, client_id, secret).json()["error"] == "invalid_client"


def test_a_token_of_another_gateway_key_is_refused(gateway: TestClient):
    token = token_of(gateway)
    head, body, _ = token.split(".")
    forged_body = claims_of(token) | {"tenant": "C-1001"}
    import orjson

    forged = f"{head}.{b64(orjson.dumps(forged_body))}.{token.split('.')[2]}"
    response = gateway.post("/graphql", json=QUERY, headers=bearer(forged))
    assert response.status_code == 401
    assert "signature is invalid" in response.headers["www-authenticate"]
    assert body


def test_an_expired_gateway_token_is_refused(tmp_path):
    config = gateway_config(
        tmp_path, oauth={"token_lifetime_s": 60, "leeway_s": 0}, oauth_clients=OAUTH_CLIENTS
    )
    with TestClient(create_app(config)) as gateway:
        token = token_of(gateway)
        signer = gateway.app_state["runtime"].authentication.oauth.signer
        signer._clock = lambda: time.time() - 120  # a token issued two minutes ago
        old = token_of(gateway)
        assert gateway.post("/graphql", json=QUERY, headers=bearer(token)).status_code == 200
        response = gateway.post("/graphql", json=QUERY, headers=bearer(old))
        assert "the token has expired" in response.headers["www-authenticate"]


def test_the_oauth_sections_are_validated(tmp_path):
    from gateway.config import ConfigError, load_config

    path = tmp_path / "gateway.toml"
    for text, expected in [
        ('[oauth]\nsigning_key = "not a key"\n', "oauth.signing_key"),
        ('[oauth]\nissuer = "ftp://x"\n', "oauth.issuer"),
        ('[oauth]\nissuer = "https://x/"\n', "oauth.issuer"),
        ("[oauth]\ntoken_lifetime_s = 5\n", "oauth.token_lifetime_s"),
        (
            '[oauth_clients.p]\ntenant = "C-1"\nsecret_hash = "plain"\n',
            "oauth_clients.p.secret_hash",
        ),
        (
            f'[oauth_clients.p]\ntenant = "C-1"\nsecret_hash = "{hash_secret("s")}"\n'
            'plan = "gold"\n',
            "oauth_clients.p.plan names 'gold'",
        ),
        ("[api_keys]\ncache_s = 60\n", "api_keys.cache_s"),
    ]:
        path.write_text(text)
        with pytest.raises(ConfigError) as invalid:
            load_config(path)
        assert expected in str(invalid.value), (text, str(invalid.value))


def test_own_clients_come_without_the_demo_oauth_client(tmp_path, monkeypatch):
    from gateway.config import load_config

    path = tmp_path / "gateway.toml"
    monkeypatch.chdir(tmp_path)
    assert DEMO_ID in load_config().oauth_clients  # the embedded defaults
    path.write_text('[clients.own]\ntenant = "C-1"\napi_key_sha256 = "' + "0" * 64 + '"\n')
    assert load_config(path).oauth_clients == {}
    hashed = hash_secret("a secret of sixteen+")
    path.write_text(
        path.read_text() + f'[oauth_clients.p]\ntenant = "C-1"\nsecret_hash = "{hashed}"\n'
    )
    assert set(load_config(path).oauth_clients) == {"p"}


def test_secret_guessing_at_the_token_endpoint_is_throttled_per_address(tmp_path, monkeypatch):
    """Failed client authentications count like failed API keys: past the per-address
    allowance the endpoint answers 429 before any secret is hashed."""
    monkeypatch.delenv("LG_THROTTLING__ENABLED", raising=False)
    config = gateway_config(
        tmp_path,
        oauth_clients=OAUTH_CLIENTS,
        throttling={"unauthenticated_failures": ["3/minute"], "storage": "memory"},
    )
    with TestClient(create_app(config)) as gateway:
        guesses = [get_token(gateway, OTHER_ID, f"guess {n}") for n in range(3)]
        assert [guess.status_code for guess in guesses] == [401, 401, 401]
        form_guess = gateway.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "client_id": OTHER_ID, "client_secret": "x"},
        )
        assert form_guess.status_code == 429
        right = get_token(gateway, OTHER_ID, OTHER_SECRET)
        assert right.status_code == 429 and "access_token" not in right.text
        assert gateway.get("/.well-known/oauth-authorization-server").status_code == 200


def test_a_wrong_secret_in_the_form_is_a_401_too(gateway: TestClient):
    response = gateway.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": DEMO_ID, "client_secret": "no"},
    )
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith('Basic realm="logistics-gateway"')
