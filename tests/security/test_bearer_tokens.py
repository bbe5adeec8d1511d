"""Bearer tokens of an identity provider: what the gateway accepts and what it refuses, why.

The provider's JWKS is served by a real HTTP server on loopback (RS256, ES256 and EdDSA keys);
the gateway is the product app, configured with `[jwt]`, driven over HTTP and WebSocket.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from gateway.app import create_app
from tests.security.conftest import API_KEYS, gateway_config
from tests.security.token_issuer import (
    AUDIENCE,
    ISSUER,
    JwksServer,
    claims,
    hmac_with_public_key,
    new_key,
    serving_jwks,
    sign,
    unsigned,
)

QUERY = {"query": "{ __typename }"}
KEYS = {
    algorithm: new_key(algorithm, f"key-{algorithm}") for algorithm in ("RS256", "ES256", "EdDSA")
}
ROGUE = new_key("ES256", "key-ES256")  # same kid as a real key, not the provider's


def jwt_settings(url: str, **values: object) -> dict[str, object]:
    return {"jwks_url": url, "issuer": ISSUER, "audience": AUDIENCE, "leeway_s": 10, **values}


@pytest.fixture(scope="module")
def provider() -> Iterator[JwksServer]:
    with serving_jwks(list(KEYS.values())) as served:
        yield served


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, provider: JwksServer) -> Iterator[TestClient]:
    config = gateway_config(
        tmp_path_factory.mktemp("bearer"),
        jwt=jwt_settings(provider.url, jwks_refetch_interval_s=3600),
    )
    with TestClient(create_app(config)) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def refused(response, description: str, error: str = "invalid_token") -> None:
    assert response.status_code == 401, (response.status_code, response.text[:300])
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="logistics-gateway"'), challenge
    assert f'error="{error}"' in challenge, challenge
    assert description in challenge, challenge
    body = response.json()["errors"][0]
    assert body["extensions"]["code"] == "UNAUTHENTICATED" and description in body["message"]


@pytest.mark.parametrize("algorithm", sorted(KEYS))
def test_a_token_of_each_algorithm_is_accepted(gateway: TestClient, algorithm: str):
    token = sign(KEYS[algorithm], claims())
    answered = gateway.post("/graphql", json=QUERY, headers=bearer(token))
    assert answered.status_code == 200, answered.text
    assert answered.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize(
    ("token_claims", "description"),
    [
        (claims(exp=int(time.time()) - 60), "the token has expired"),
        (claims(nbf=int(time.time()) + 120), "the token is not valid yet"),
        (claims(iat=int(time.time()) + 120), "the token was issued in the future"),
        (claims(aud="another-api"), "the token is for another audience"),
        (claims(aud=None), "the token has no 'aud' claim"),
        (claims(exp=None), "the token has no 'exp' claim"),
        (claims(exp="tomorrow"), "the token has no valid expiry"),
        (claims(iss="https://evil.example.test"), "the token's issuer is not trusted"),
        (claims(tenant=None), "the token has no usable 'tenant' claim"),
        (claims(sub=""), "the token has no usable 'sub' claim"),
        (claims(tenant=["C-1001"]), "the token has no usable 'tenant' claim"),
        (claims(scope=7), "the token's scopes are not a string or a list of strings"),
        (claims(plan="platinum"), "the token names an unknown plan"),
        (claims(warehouses="WH-AMS"), "the token's 'warehouses' claim is not a list of ids"),
    ],
)
def test_a_token_with_bad_claims_says_what_is_wrong(gateway, token_claims, description):
    token = sign(KEYS["ES256"], token_claims)
    refused(gateway.post("/graphql", json=QUERY, headers=bearer(token)), description)


def test_the_leeway_forgives_a_little_clock_skew(gateway: TestClient):
    now = int(time.time())
    token = sign(KEYS["EdDSA"], claims(exp=now - 5, nbf=now + 5))
    assert gateway.post("/graphql", json=QUERY, headers=bearer(token)).status_code == 200


def test_a_forged_signature_is_refused(gateway: TestClient):
    forged = sign(ROGUE, claims())
    refused(gateway.post("/graphql", json=QUERY, headers=bearer(forged)), "signature is invalid")
    head, body, _ = sign(KEYS["RS256"], claims()).split(".")
    _, other_body, signature = sign(KEYS["RS256"], claims(tenant="C-1002")).split(".")
    spliced = f"{head}.{other_body}.{sign(KEYS['RS256'], claims()).split('.')[2]}"
    refused(gateway.post("/graphql", json=QUERY, headers=bearer(spliced)), "signature is invalid")
    assert body != other_body and signature


def test_alg_none_is_refused(gateway: TestClient):
    token = unsigned(claims(), kid="key-RS256")
    refused(
        gateway.post("/graphql", json=QUERY, headers=bearer(token)), "algorithm is not accepted"
    )


def test_hmac_keyed_with_the_public_key_is_refused(gateway: TestClient):
    token = hmac_with_public_key(KEYS["RS256"], claims())
    refused(
        gateway.post("/graphql", json=QUERY, headers=bearer(token)), "algorithm is not accepted"
    )


def test_a_key_of_another_type_under_a_known_kid_does_not_verify(gateway: TestClient):
    """An EdDSA token naming the RSA key's kid finds no fitting key."""
    token = sign(KEYS["EdDSA"], claims(), kid="key-RS256")
    refused(gateway.post("/graphql", json=QUERY, headers=bearer(token)), "signing key is unknown")


def test_unknown_kids_are_refused_and_fetch_the_jwks_at_most_once_per_interval(
    gateway: TestClient, provider: JwksServer
):
    before = provider.fetches
    for n in range(25):
        token = sign(new_key("ES256", f"random-{n}"), claims())
        response = gateway.post("/graphql", json=QUERY, headers=bearer(token))
        refused(response, "the token's signing key is unknown")
    assert provider.fetches - before <= 1, f"{provider.fetches - before} fetches for 25 kids"


@pytest.mark.parametrize(
    ("token", "description"),
    [
        ("a.b.c", "the token is malformed"),
        ("eyJhbGciOiJSUzI1NiJ9.e30.", "the token's issuer is not trusted"),
        ("e30.e30.e30", "the token's issuer is not trusted"),
        ("W10.W10.W10", "the token is malformed"),
        ("x" * 9000 + ".e30.e30", "longer than 8192 bytes"),
    ],
)
def test_malformed_and_oversized_tokens_are_refused(gateway, token, description):
    refused(gateway.post("/graphql", json=QUERY, headers=bearer(token)), description)


def test_a_huge_authorization_header_is_refused_before_any_work(gateway: TestClient):
    response = gateway.post("/graphql", json=QUERY, headers=bearer("k" * 20_000))
    refused(response, "longer than 8192 bytes")


def test_a_token_and_an_api_key_together_are_refused(gateway: TestClient):
    headers = {**bearer(sign(KEYS["RS256"], claims())), "X-API-Key": API_KEYS["portal"]}
    refused(
        gateway.post("/graphql", json=QUERY, headers=headers), "more than one", "invalid_request"
    )


def test_no_credential_is_a_bare_challenge(gateway: TestClient):
    response = gateway.post("/graphql", json=QUERY)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="logistics-gateway"'


def test_the_admin_routes_name_the_missing_scope(gateway: TestClient):
    token = sign(KEYS["RS256"], claims(scope="read"))
    response = gateway.get("/admin/keys", headers=bearer(token))
    assert response.status_code == 403
    assert response.json()["scope"] == "admin"
    challenge = response.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge and 'scope="admin"' in challenge


def test_scopes_come_from_scope_or_scp_and_a_tenant_sees_only_its_own_keys(gateway: TestClient):
    operations = {"X-API-Key": API_KEYS["operations"]}
    made = gateway.post(
        "/admin/keys", json={"client": "acme", "scopes": ["read"]}, headers=operations
    )
    assert made.status_code == 201, made.text
    own = sign(KEYS["RS256"], claims(scope=None, scp=["read", "admin"]))
    listed = gateway.get("/admin/keys", headers=bearer(own)).json()["keys"]
    assert made.json()["key_id"] in [key["key_id"] for key in listed]
    other = sign(KEYS["ES256"], claims(tenant="C-1002", scope="read admin"))
    theirs = gateway.get("/admin/keys", headers=bearer(other))
    assert theirs.status_code == 200 and theirs.json() == {"keys": []}
    revoked = gateway.delete(f"/admin/keys/{made.json()['key_id']}", headers=bearer(other))
    assert revoked.status_code == 404


def test_a_websocket_presents_a_token_on_the_upgrade_or_in_connection_init(gateway: TestClient):
    token = sign(KEYS["EdDSA"], claims())
    for headers, payload in ((bearer(token), None), ({}, {"Authorization": f"Bearer {token}"})):
        with gateway.websocket_connect(
            "/graphql", headers=headers, subprotocols=["graphql-transport-ws"]
        ) as socket:
            socket.send_json({"type": "connection_init", "payload": payload or {}})
            assert socket.receive_json() == {"type": "connection_ack"}
            socket.send_json({"id": "1", "type": "subscribe", "payload": QUERY})
            assert socket.receive_json()["payload"] == {"data": {"__typename": "Query"}}
            assert socket.receive_json() == {"id": "1", "type": "complete"}
            socket.send_json({"type": "done"})  # a bad message: the server closes
            with pytest.raises(WebSocketDisconnect):
                socket.receive_json()


def test_an_expired_token_on_a_websocket_upgrade_is_refused(gateway: TestClient):
    token = sign(KEYS["EdDSA"], claims(exp=int(time.time()) - 60))
    upgrade = gateway.websocket_connect("/graphql", headers=bearer(token))
    with pytest.raises(WebSocketDenialResponse) as denied, upgrade:
        pass
    assert denied.value.status_code == 401
    assert "expired" in denied.value.headers["www-authenticate"]


def test_a_rotated_key_is_fetched_when_a_token_names_it(tmp_path: Path):
    with serving_jwks([KEYS["RS256"]]) as provider:
        config = gateway_config(tmp_path, jwt=jwt_settings(provider.url, jwks_refetch_interval_s=1))
        with TestClient(create_app(config)) as gateway:
            fetched_at_start = provider.fetches
            assert fetched_at_start == 1
            rotated = new_key("ES256", "rotated-1")
            token = sign(rotated, claims())
            refused(gateway.post("/graphql", json=QUERY, headers=bearer(token)), "key is unknown")
            provider.keys.append(rotated)
            time.sleep(1.1)  # the refetch interval, at its configured minimum
            answered = gateway.post("/graphql", json=QUERY, headers=bearer(token))
            assert answered.status_code == 200, answered.text
            assert provider.fetches == fetched_at_start + 1  # the start's fetch was too recent


def test_the_jwt_section_is_validated(tmp_path: Path):
    from gateway.config import ConfigError, load_config

    path = tmp_path / "gateway.toml"
    for text, expected in [
        ('[jwt]\njwks_url = "https://idp/keys"\n', "jwks_url needs issuer and audience"),
        ('[jwt]\nalgorithms = ["HS256"]\n', "jwt.algorithms.0"),
        ("[jwt]\nalgorithms = []\n", "jwt.algorithms"),
        ("[jwt]\nleeway_s = 3600\n", "jwt.leeway_s"),
        ('[jwt]\ndefault_plan = "gold"\n', "jwt.default_plan names 'gold'"),
        ('[jwt]\njwks_url = "ftp://idp/keys"\n', "jwks_url must be an http(s):// URL"),
        ("[jwt]\njwks_refetch_interval_s = 0\n", "jwt.jwks_refetch_interval_s"),
        (
            '[jwt]\njwks_url = "https://idp/k"\naudience = "a"\nissuer = "http://127.0.0.1:8000"\n',
            "jwt.issuer must differ from the gateway's own OAuth issuer",
        ),
    ]:
        path.write_text(text)
        with pytest.raises(ConfigError) as invalid:
            load_config(path)
        assert expected in str(invalid.value), (text, str(invalid.value))
