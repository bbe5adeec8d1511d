"""The production profile: it refuses published secrets and discloses only what it must.

The refusal goes through the real `logistics-gateway` command (exit code and message); the
running profile through a real process on a loopback port; development and the GraphiQL page
through the app in process.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from tests.gateway.conftest import gateway_process
from tests.sandbox_processes import free_port
from tests.security.conftest import API_KEYS, client_settings, digest

COMMAND = str(Path(sys.executable).parent / "logistics-gateway")
GRAPHQL_RESPONSE = "application/graphql-response+json"
PUBLISHED_SECRETS = [
    "backends.erp.credential",
    "backends.roadline.credential",
    "backends.swiftparcel.credential",
    "backends.tms.credential",
    "backends.wms.credential",
    "clients.operations.api_key_sha256",
    "clients.partner-c1002.api_key_sha256",
    "clients.portal-c1001.api_key_sha256",
    "clients.portal-c1002.api_key_sha256",
    "clients.warehouse-app.api_key_sha256",
    "cursors.signing_key",
    "identity.signing_key",
    "oauth.signing_key",
    "oauth_clients.demo-partner-c1002.secret_hash",
    "ops.session_signing_key",
    "webhooks.heritage_password",
    "webhooks.swiftparcel_secret",
    "webhooks.wms_secret",
]
INTROSPECTION = "{ __schema { queryType { name } } }"
HIDDEN_INTROSPECTION = (
    'query Q { ...Root } fragment Root on Query { ... on Query { __type(name: "Query") { name } } }'
)
PLANNED = "{ __typename }"
OWN_OAUTH_KEY = (
    Ed25519PrivateKey.generate()
    .private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    .decode()
)


def own_secrets(directory: Path, port: int) -> str:
    """A production configuration in which every secret is the operator's own."""
    backends = "".join(
        f'[backends.{name}]\ncredential = "own-{name}-credential"\n'
        for name in ("erp", "wms", "tms", "swiftparcel", "roadline")
    )
    return f"""
environment = "production"

[server]
host = "127.0.0.1"
port = {port}

[stores]
database_url = "sqlite+aiosqlite:///{directory / "gateway.sqlite3"}"

[polling]
enabled = false

[webhooks]
wms_secret = "own-wms-secret"
swiftparcel_secret = "own-swift-secret"
heritage_password = "own-heritage-password"

[cursors]
signing_key = "own-cursor-signing-key-of-the-operator"

[identity]
signing_key = "own-identity-signing-key-of-the-operator"

[ops]
session_signing_key = "own-ops-session-signing-key-of-the-operator"

[oauth]
signing_key = '''{OWN_OAUTH_KEY}'''

[oauth_clients]

[clients.portal]
tenant = "C-1001"
api_key_sha256 = "{digest(API_KEYS["portal"])}"

[clients.operations]
tenant = "C-1001"
api_key_sha256 = "{digest(API_KEYS["operations"])}"
scopes = ["read", "admin"]
introspection = true

{backends}
"""


def run_command(config: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [COMMAND, "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **environment},
    )


def test_production_refuses_to_start_naming_every_published_secret(tmp_path: Path):
    config = tmp_path / "gateway.toml"
    config.write_text('environment = "production"\n')
    finished = run_command(config)
    assert finished.returncode == 2, finished.stderr
    named = re.search(r"published default values: ([^;]+);", finished.stderr)
    assert named, finished.stderr
    assert named.group(1).split(", ") == PUBLISHED_SECRETS
    assert "Traceback" not in finished.stderr
    assert "backends.heritage.credential" not in finished.stderr  # no published value there


def test_the_environment_switches_to_production_like_any_other_key(tmp_path: Path):
    config = tmp_path / "gateway.toml"
    config.write_text("")
    finished = run_command(config, LG_ENVIRONMENT="production")
    assert finished.returncode == 2 and "webhooks.wms_secret" in finished.stderr


def test_only_the_keys_left_at_a_published_value_are_named(tmp_path: Path):
    text = own_secrets(tmp_path, free_port())
    text = text.replace('wms_secret = "own-wms-secret"', 'wms_secret = "wms-webhook-secret"')
    # a published value under another key is still published
    text = text.replace('"own-erp-credential"', '"tms-demo-key"')
    text = text.replace(digest(API_KEYS["portal"]), digest("demo-key-c1002"))
    config = tmp_path / "gateway.toml"
    config.write_text(text)
    finished = run_command(config, LG_CURSORS__SIGNING_KEY="development-cursor-signing-key")
    assert finished.returncode == 2
    named = re.search(r"published default values: ([^;]+);", finished.stderr)
    assert named, finished.stderr
    assert named.group(1).split(", ") == [
        "backends.erp.credential",
        "clients.portal.api_key_sha256",
        "cursors.signing_key",
        "webhooks.wms_secret",
    ]


def test_an_emptied_secret_is_refused_too(tmp_path: Path):
    config = tmp_path / "gateway.toml"
    config.write_text(own_secrets(tmp_path, free_port()))
    finished = run_command(config, LG_WEBHOOKS__SWIFTPARCEL_SECRET="")
    assert finished.returncode == 2 and "webhooks.swiftparcel_secret" in finished.stderr


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`logistics-gateway run` in production with the operator's own secrets."""
    directory = tmp_path_factory.mktemp("production")
    port = free_port()
    config = directory / "gateway.toml"
    config.write_text(own_secrets(directory, port))
    with gateway_process(config, port) as running:
        yield running.url


def ask(url: str, query: str, client: str, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{url}/graphql",
        json={"query": query},
        headers={"X-API-Key": API_KEYS[client], "Accept": GRAPHQL_RESPONSE, **headers},
        timeout=10,
    )


def test_production_starts_with_its_own_secrets_and_serves_no_graphiql(production: str):
    assert httpx.get(f"{production}/graphiql").status_code == 401  # not a public route now
    with_key = httpx.get(f"{production}/graphiql", headers={"X-API-Key": API_KEYS["portal"]})
    assert with_key.status_code == 404


def test_production_answers_the_query_plan_only_to_the_admin_scope(production: str):
    reader = ask(production, PLANNED, "portal", **{"X-Query-Plan": "true"})
    assert reader.status_code == 200 and "extensions" not in reader.json()
    admin = ask(production, PLANNED, "operations", **{"X-Query-Plan": "true"})
    assert "queryPlan" in admin.json()["extensions"]


@pytest.mark.parametrize("query", [INTROSPECTION, HIDDEN_INTROSPECTION])
def test_production_refuses_introspection_to_clients_not_allowed_it(production: str, query):
    refused = ask(production, query, "portal")
    assert refused.status_code == 400
    error = refused.json()["errors"][0]
    assert error["extensions"]["code"] == "INTROSPECTION_DISABLED"
    assert "Introspection" in error["message"] and "not allowed" in error["message"]
    legacy = httpx.post(
        f"{production}/graphql",
        json={"query": query},
        headers={"X-API-Key": API_KEYS["portal"], "Accept": "application/json"},
    )
    assert "data" not in legacy.json()
    assert legacy.json()["errors"][0]["extensions"]["code"] == "INTROSPECTION_DISABLED"


def test_production_keeps_typename_and_introspection_for_a_client_allowed_it(production: str):
    assert ask(production, "{ __typename }", "portal").json() == {"data": {"__typename": "Query"}}
    allowed = ask(production, INTROSPECTION, "operations").json()
    assert allowed["data"] == {"__schema": {"queryType": {"name": "Query"}}}
    assert "errors" not in allowed
    assert allowed["extensions"]["cost"]["result"] == "COST_OK", "the admin scope sees costs"


def test_development_discloses_plan_and_schema_to_every_client(open_gateway):
    gateway = open_gateway()
    headers = {"X-API-Key": API_KEYS["portal"], "X-Query-Plan": "true"}
    answer = gateway.post("/graphql", json={"query": INTROSPECTION}, headers=headers).json()
    assert answer["data"] == {"__schema": {"queryType": {"name": "Query"}}}
    assert "queryPlan" in answer["extensions"]


def test_the_switches_override_the_environment_defaults(open_gateway):
    gateway = open_gateway(
        server={"graphiql": False}, clients=client_settings(portal={"introspection": False})
    )
    assert gateway.get("/graphiql").status_code == 401
    refused = gateway.post(
        "/graphql",
        json={"query": INTROSPECTION},
        headers={"X-API-Key": API_KEYS["portal"], "Accept": GRAPHQL_RESPONSE},
    )
    assert refused.status_code == 400


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.external: list[dict[str, str | None]] = []
        self.inline_scripts: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if (tag == "script" and attributes.get("src")) or tag == "link":
            self.external.append({"tag": tag, **attributes})
        self._in_inline_script = tag == "script" and "src" not in attributes

    def handle_data(self, data: str) -> None:
        if self._in_inline_script:
            self.inline_scripts.append(data)
            self._in_inline_script = False


def test_the_graphiql_page_pins_its_files_and_sends_security_headers(open_gateway):
    response = open_gateway().get("/graphiql")
    assert response.status_code == 200
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    policy = {
        directive.split()[0]: directive.split()[1:]
        for directive in response.headers["content-security-policy"].split("; ")
    }
    assert policy["default-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert policy["connect-src"] == ["'self'"]
    page = _Page()
    page.feed(response.text)
    assert [item["tag"] for item in page.external] == ["link", "script", "script", "script"]
    for item in page.external:
        url = item.get("src") or item.get("href")
        assert re.fullmatch(r"https://unpkg\.com/[a-z-]+@\d+\.\d+\.\d+/[\w./-]+", url or ""), url
        assert re.fullmatch(r"sha384-[A-Za-z0-9+/]{64}", item.get("integrity") or ""), item
        assert item.get("crossorigin") == "anonymous"
        allowed = policy["script-src"] if item["tag"] == "script" else policy["style-src"]
        assert url in allowed
    assert len(page.inline_scripts) == 1
    inline_hash = base64.b64encode(hashlib.sha256(page.inline_scripts[0].encode()).digest())
    assert policy["script-src"][0] == f"'sha256-{inline_hash.decode()}'"
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]


def test_production_needs_a_public_oauth_issuer_and_keys_fetched_over_tls(tmp_path: Path):
    config = tmp_path / "gateway.toml"
    text = own_secrets(tmp_path, free_port()).replace(
        "[oauth_clients]\n",
        '[oauth_clients.partner]\ntenant = "C-1002"\n'
        'secret_hash = "scrypt$16384,8,1$c2FsdHNhbHRzYWx0c2FsdA==$'
        'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="\n',
    )
    config.write_text(text)
    finished = run_command(config)
    assert finished.returncode == 2 and "needs oauth.issuer" in finished.stderr, finished.stderr
    finished = run_command(
        config,
        LG_OAUTH__ISSUER="https://gateway.example.com",
        LG_JWT__JWKS_URL="http://idp.example.com/keys",
        LG_JWT__ISSUER="https://idp.example.com",
        LG_JWT__AUDIENCE="logistics",
    )
    assert finished.returncode == 2 and "https:// jwt.jwks_url" in finished.stderr, finished.stderr
