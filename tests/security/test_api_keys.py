"""API keys issued at run time: through `/admin/keys` (an admin, for its own tenant) and the
`logistics-gateway keys` command (the operator, any tenant); shown once, stored hashed,
identified by a prefix, expiring and revocable; every input is checked."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from policies.api_keys import new_credential
from tests.security.conftest import API_KEYS, client_settings, digest, gateway_config

QUERY = {"query": "{ __typename }"}
OPERATIONS = {"X-API-Key": API_KEYS["operations"]}
OTHER_ADMIN_KEY = "key-for-the-admin-of-another-tenant"
OTHER_ADMIN = {"X-API-Key": OTHER_ADMIN_KEY}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    clients = client_settings()
    clients["other-admin"] = {
        "tenant": "C-1002",
        "api_key_sha256": digest(OTHER_ADMIN_KEY),
        "scopes": ["read", "admin"],
    }
    config = gateway_config(tmp_path_factory.mktemp("keys"), clients=clients)
    with TestClient(create_app(config)) as client:
        yield client


def create(gateway: TestClient, headers=OPERATIONS, **body: object):
    return gateway.post("/admin/keys", json={"client": "acme", **body}, headers=headers)


def test_a_key_is_shown_once_stored_hashed_and_works(gateway: TestClient):
    made = create(gateway, description="acme's nightly export")
    assert made.status_code == 201, made.text
    assert made.headers["cache-control"] == "no-store"
    key = made.json()
    assert key["api_key"].startswith(f"lgk_{key['key_id']}_") and key["tenant"] == "C-1001"
    assert key["plan"] == "basic" and key["scopes"] == ["read"]
    answered = gateway.post("/graphql", json=QUERY, headers={"X-API-Key": key["api_key"]})
    assert answered.status_code == 200, answered.text
    bearer = {"Authorization": f"Bearer {key['api_key']}"}
    assert gateway.post("/graphql", json=QUERY, headers=bearer).status_code == 200
    listed = gateway.get("/admin/keys", headers=OPERATIONS)
    assert key["key_id"] in listed.text
    secret = key["api_key"].split("_", 2)[2]
    assert secret not in listed.text and digest(secret) not in listed.text
    stored = gateway.app_state["runtime"].stores.credentials
    assert gateway.portal.call(stored.get, key["key_id"]).secret_sha256 == digest(secret)


def test_a_revoked_key_is_refused_at_once_on_the_revoking_process(gateway: TestClient):
    key = create(gateway).json()
    headers = {"X-API-Key": key["api_key"]}
    assert gateway.post("/graphql", json=QUERY, headers=headers).status_code == 200
    revoked = gateway.delete(f"/admin/keys/{key['key_id']}", headers=OPERATIONS)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    refused = gateway.post("/graphql", json=QUERY, headers=headers)
    assert refused.status_code == 401
    assert "the API key has been revoked" in refused.headers["www-authenticate"]


def test_a_wrong_secret_under_a_real_key_id_reads_as_an_invalid_key(gateway: TestClient):
    key = create(gateway).json()
    wrong = f"lgk_{key['key_id']}_{'A' * 43}"
    refused = gateway.post("/graphql", json=QUERY, headers={"X-API-Key": wrong})
    assert refused.status_code == 401 and "invalid API key" in refused.text
    assert "revoked" not in refused.text and "expired" not in refused.text


def test_an_expired_key_is_refused(gateway: TestClient):
    issued = new_credential(
        "api_key",
        client="old",
        tenant="C-1001",
        scopes={"read"},
        plan="basic",
        lifetime=timedelta(days=1),
    )
    credential = issued.credential
    expired = type(credential)(
        **{
            **{name: getattr(credential, name) for name in credential.__slots__},
            "expires_at": credential.created_at - timedelta(seconds=1),
        }
    )
    gateway.portal.call(gateway.app_state["runtime"].stores.credentials.add, expired)
    refused = gateway.post("/graphql", json=QUERY, headers={"X-API-Key": issued.api_key})
    assert refused.status_code == 401 and "the API key has expired" in refused.text


def test_an_oauth_client_secret_is_no_api_key(gateway: TestClient):
    client = create(gateway, kind="oauth_client").json()
    as_key = f"lgk_{client['key_id']}_{client['client_secret']}"
    refused = gateway.post("/graphql", json=QUERY, headers={"X-API-Key": as_key})
    assert refused.status_code == 401 and "invalid API key" in refused.text


def test_keys_need_an_admin(gateway: TestClient):
    anonymous = gateway.get("/admin/keys")
    assert anonymous.status_code == 401
    portal = {"X-API-Key": API_KEYS["portal"]}
    for response in (
        gateway.get("/admin/keys", headers=portal),
        gateway.post("/admin/keys", json={"client": "x"}, headers=portal),
        gateway.delete("/admin/keys/0123456789ab", headers=portal),
    ):
        assert response.status_code == 403
        assert response.json() == {
            "error": "insufficient_scope",
            "message": "the admin scope is required",
            "scope": "admin",
        }
        assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


def test_an_admin_sees_and_revokes_only_its_own_tenants_keys(gateway: TestClient):
    ours = create(gateway).json()
    theirs = create(gateway, headers=OTHER_ADMIN).json()
    assert theirs["tenant"] == "C-1002"
    listed = [
        key["key_id"] for key in gateway.get("/admin/keys", headers=OPERATIONS).json()["keys"]
    ]
    assert ours["key_id"] in listed and theirs["key_id"] not in listed
    other = gateway.delete(f"/admin/keys/{theirs['key_id']}", headers=OPERATIONS)
    assert other.status_code == 404 and other.json()["error"] == "not_found"
    still = gateway.post("/graphql", json=QUERY, headers={"X-API-Key": theirs["api_key"]})
    assert still.status_code == 200
    elsewhere = create(gateway, tenant="C-1002")
    assert elsewhere.status_code == 403 and "own tenant" in elsewhere.text


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"scopes": ["read", "write"]}, 403, "not: write"),
        ({"scopes": ["warehouse"], "warehouses": ["WH-AMS"]}, 403, "not: warehouse"),
        ({"scopes": []}, 400, "scopes must name"),
        ({"scopes": "read"}, 400, "scopes must be a list"),
        ({"scopes": ["re ad"]}, 400, "each scope"),
        ({"scopes": [f"s{n}" for n in range(200)]}, 400, "too many"),
        ({"plan": "gold"}, 400, "plan must be one of"),
        ({"expires_in_days": 0}, 400, "expires_in_days must be 1 to 365"),
        ({"expires_in_days": 10_000}, 400, "expires_in_days must be 1 to 365"),
        ({"expires_in_days": "30"}, 400, "whole number"),
        ({"expires_in_days": True}, 400, "whole number"),
        ({"client": ""}, 400, "client must be"),
        ({"client": "a" * 101}, 400, "client must be"),
        ({"client": "../etc"}, 400, "client must be"),
        ({"client": 5}, 400, "client is required"),
        ({"kind": "root"}, 400, "kind must be"),
        ({"description": "x" * 201}, 400, "description"),
        ({"admin": True}, 400, "unknown field 'admin'"),
    ],
)
def test_bad_key_requests_are_refused_naming_the_field(gateway, body, status, message):
    response = create(gateway, **body)
    assert response.status_code == status, response.text
    assert message in response.json()["message"]


@pytest.mark.parametrize(
    ("content", "status"),
    [(b"{", 400), (b"[]", 400), (b"null", 400), (b"x" * 5000, 413), ("é".encode("latin-1"), 400)],
)
def test_malformed_and_oversized_bodies_are_refused(gateway, content, status):
    response = gateway.post("/admin/keys", content=content, headers=OPERATIONS)
    assert response.status_code == status, response.text


@pytest.mark.parametrize("key_id", ["xyz", "0123456789abc", "0123456789AB", "%00" * 4])
def test_a_malformed_key_id_is_refused(gateway: TestClient, key_id: str):
    response = gateway.delete(f"/admin/keys/{key_id}", headers=OPERATIONS)
    assert response.status_code == 400 and "12 hexadecimal" in response.text


def test_an_unknown_key_id_is_not_found(gateway: TestClient):
    assert gateway.delete("/admin/keys/0123456789ab", headers=OPERATIONS).status_code == 404


def test_a_listing_is_bounded_whatever_was_issued(gateway: TestClient):
    for _ in range(30):
        assert create(gateway).status_code == 201
    assert gateway.get("/admin/keys?limit=5", headers=OPERATIONS).status_code == 400
    keys = gateway.get("/admin/keys", headers=OPERATIONS).json()["keys"]
    assert 30 <= len(keys) <= 1000


@pytest.mark.parametrize(
    "value",
    [
        "lgk_",
        "lgk_0123456789ab_",
        "lgk_0123456789ab_" + "A" * 42,
        "lgk_0123456789AB_" + "A" * 43,
        "lgk_0123456789ab_" + "A" * 8000,
    ],
)
def test_key_shaped_junk_is_an_invalid_key(gateway: TestClient, value: str):
    refused = gateway.post("/graphql", json=QUERY, headers={"X-API-Key": value})
    assert refused.status_code == 401


# -- the command -----------------------------------------------------------------------------


def keys(
    config: Path, *arguments: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "keys", *arguments, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        input=stdin,
        env={**os.environ},
    )


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(f'[stores]\ndatabase_url = "sqlite+aiosqlite:///{tmp_path / "g.sqlite3"}"\n')
    return path


def test_the_command_creates_lists_and_revokes(config_file: Path):
    created = keys(
        config_file, "create", "--client", "acme", "--tenant", "C-1002", "--plan", "premium"
    )
    assert created.returncode == 0, created.stderr
    assert "shown once" in created.stdout and "lgk_" in created.stdout
    key_id = created.stdout.splitlines()[1].split()[0]
    other = keys(config_file, "create", "--client", "b", "--tenant", "C-1001", "--oauth", "--json")
    client = orjson.loads(other.stdout)
    assert client["client_id"] == f"lgc_{client['key_id']}" and client["client_secret"]
    listed = orjson.loads(keys(config_file, "list", "--tenant", "C-1002", "--json").stdout)
    assert [key["key_id"] for key in listed] == [key_id]
    assert listed[0]["plan"] == "premium" and "secret" not in str(listed[0]).lower()
    everything = keys(config_file, "list").stdout
    assert key_id in everything and client["key_id"] in everything
    revoked = keys(config_file, "revoke", key_id)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    assert orjson.loads(keys(config_file, "list", "--json").stdout)[1]["revoked_at"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("create", "--client", "a", "--tenant", "T", "--plan", "gold"), "plan must be one of"),
        (("create", "--client", "a b", "--tenant", "T"), "client must be"),
        (("create", "--client", "a", "--tenant", "T" * 101), "tenant must be"),
        (("create", "--client", "a", "--tenant", "T", "--expires-in-days", "9999"), "1 to 365"),
        (("create", "--client", "a", "--tenant", "T", "--scope", "warehouse"), "go together"),
        (("revoke", "zzz"), "12 hexadecimal digits"),
    ],
)
def test_the_command_refuses_bad_input(config_file: Path, arguments, message):
    finished = keys(config_file, *arguments)
    assert finished.returncode == 2 and message in finished.stderr, finished.stderr
    assert "Traceback" not in finished.stderr


def test_revoking_an_unknown_key_fails(config_file: Path):
    finished = keys(config_file, "revoke", "0123456789ab")
    assert finished.returncode == 1 and "no key" in finished.stderr


def test_a_bad_configuration_names_the_key(tmp_path: Path):
    path = tmp_path / "gateway.toml"
    path.write_text("[api_keys]\ncache_s = 10\n")
    finished = keys(path, "list")
    assert finished.returncode == 2 and "api_keys.cache_s" in finished.stderr


def test_hash_secret_prints_a_hash_the_configuration_accepts(config_file: Path, tmp_path: Path):
    from gateway.config import load_config
    from policies.oauth_clients import secret_matches

    finished = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "keys", "hash-secret"],
        capture_output=True,
        text=True,
        input="a secret chosen by a person\n",
        timeout=60,
    )
    assert finished.returncode == 0, finished.stderr
    secret_hash = finished.stdout.strip()
    assert secret_matches("a secret chosen by a person", secret_hash)
    config = tmp_path / "with-client.toml"
    config.write_text(f'[oauth_clients.p]\ntenant = "C-1001"\nsecret_hash = "{secret_hash}"\n')
    assert load_config(config).oauth_clients["p"].tenant == "C-1001"
    short = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "keys", "hash-secret"],
        capture_output=True,
        text=True,
        input="short\n",
        timeout=60,
    )
    assert short.returncode == 2 and "16 to 512" in short.stderr
