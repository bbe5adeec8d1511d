"""CORS for configured browser portals: a preflight needs no key, the request itself does, and
an origin that is not configured gets no CORS header at all."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import ConfigError, load_config
from tests.security.conftest import API_KEYS, gateway_config

PORTAL = "https://portal.example.com"
OTHER_PORTAL = "https://dispatch.example.com:8443"
STRANGER = "https://evil.example.net"
QUERY = {"query": "{ __typename }"}


@pytest.fixture
def open_gateway(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """The gateway app for a configuration; each one opened is closed after the test."""
    with ExitStack() as stack:
        yield lambda **values: stack.enter_context(
            TestClient(create_app(gateway_config(tmp_path, **values)))
        )


def preflight(client: TestClient, origin: str, headers: str = "content-type, x-api-key"):
    return client.options(
        "/graphql",
        headers={
            "origin": origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": headers,
        },
    )


def cors_headers(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


@pytest.fixture
def portal_gateway(open_gateway: Callable[..., TestClient]) -> TestClient:
    return open_gateway(cors={"allow_origins": [PORTAL, OTHER_PORTAL], "max_age": 900})


def test_a_preflight_from_a_portal_needs_no_key(portal_gateway: TestClient) -> None:
    response = preflight(portal_gateway, PORTAL)
    assert response.status_code == 200
    headers = cors_headers(response)
    assert headers["access-control-allow-origin"] == PORTAL
    assert headers["access-control-allow-methods"] == "GET, POST"
    assert "x-api-key" in headers["access-control-allow-headers"]
    assert headers["access-control-max-age"] == "900"
    assert "access-control-allow-credentials" not in headers


def test_the_request_itself_still_needs_its_key_and_the_portal_may_read_the_refusal(
    portal_gateway: TestClient,
) -> None:
    refused = portal_gateway.post("/graphql", json=QUERY, headers={"origin": PORTAL})
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == PORTAL
    answered = portal_gateway.post(
        "/graphql", json=QUERY, headers={"origin": OTHER_PORTAL, "x-api-key": API_KEYS["portal"]}
    )
    assert answered.status_code == 200
    assert answered.json() == {"data": {"__typename": "Query"}}
    assert answered.headers["access-control-allow-origin"] == OTHER_PORTAL
    assert "x-correlation-id" in answered.headers["access-control-expose-headers"]
    assert "Origin" in answered.headers["vary"]


def test_an_unknown_origin_gets_no_cors_header(portal_gateway: TestClient) -> None:
    refused = preflight(portal_gateway, STRANGER)
    assert refused.status_code == 400
    assert cors_headers(refused) == {}
    answered = portal_gateway.post(
        "/graphql", json=QUERY, headers={"origin": STRANGER, "x-api-key": API_KEYS["portal"]}
    )
    assert answered.status_code == 200, "not a browser's business: served, but unshared"
    assert cors_headers(answered) == {}
    assert "Origin" in answered.headers["vary"]


@pytest.mark.parametrize(
    "origin",
    ["null", "https://portal.example.com.evil.net", "http://portal.example.com", PORTAL + "/"],
)
def test_origins_are_matched_exactly(portal_gateway: TestClient, origin: str) -> None:
    assert cors_headers(preflight(portal_gateway, origin)) == {}


def test_a_preflight_asking_for_an_unlisted_header_is_refused(portal_gateway: TestClient) -> None:
    response = preflight(portal_gateway, PORTAL, headers="x-api-key, x-internal-override")
    assert response.status_code == 400


def test_without_a_cors_section_no_origin_is_allowed(
    open_gateway: Callable[..., TestClient],
) -> None:
    client = open_gateway()
    response = preflight(client, PORTAL)
    assert response.status_code == 401, "a preflight is then a request without a key"
    assert cors_headers(response) == {}
    answered = client.post(
        "/graphql", json=QUERY, headers={"origin": PORTAL, "x-api-key": API_KEYS["portal"]}
    )
    assert cors_headers(answered) == {}


def test_credentials_are_allowed_for_listed_origins_only(
    open_gateway: Callable[..., TestClient],
) -> None:
    client = open_gateway(cors={"allow_origins": [PORTAL], "allow_credentials": True})
    allowed = preflight(client, PORTAL)
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert allowed.headers["access-control-allow-origin"] == PORTAL
    stranger = client.post(
        "/graphql", json=QUERY, headers={"origin": STRANGER, "x-api-key": API_KEYS["portal"]}
    )
    assert cors_headers(stranger) == {}


def test_a_wildcard_serves_every_origin_without_credentials(
    open_gateway: Callable[..., TestClient],
) -> None:
    client = open_gateway(cors={"allow_origins": ["*"]})
    response = preflight(client, STRANGER)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"


def test_an_admin_route_preflight_needs_no_key_but_the_route_does(
    open_gateway: Callable[..., TestClient],
) -> None:
    client = open_gateway(cors={"allow_origins": [PORTAL], "allow_methods": ["GET"]})
    response = client.options(
        "/admin/deprecations",
        headers={"origin": PORTAL, "access-control-request-method": "GET"},
    )
    assert response.status_code == 200
    assert client.get("/admin/deprecations", headers={"origin": PORTAL}).status_code == 401


def test_an_oversized_origin_header_is_an_unknown_origin(portal_gateway: TestClient) -> None:
    """An expensive caller: an 8 KB Origin on every request is compared, not parsed."""
    huge = "https://" + "a" * 8000 + ".example.com"
    for _ in range(200):
        response = portal_gateway.post(
            "/graphql", json=QUERY, headers={"origin": huge, "x-api-key": API_KEYS["portal"]}
        )
        assert response.status_code == 200
        assert cors_headers(response) == {}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[cors]\nallow_origins = ["*"]\nallow_credentials = true\n',
            "cors: Value error, allow_origins = ['*'] cannot go with allow_credentials = true",
        ),
        ('[cors]\nallow_origins = ["https://portal.example.com/"]\n', "cors.allow_origins.0"),
        ('[cors]\nallow_origins = ["HTTPS://PORTAL.EXAMPLE.COM"]\n', "cors.allow_origins.0"),
        ('[cors]\nallow_origins = ["ftp://portal.example.com"]\n', "cors.allow_origins.0"),
        ('[cors]\nallow_origins = ["null"]\n', "cors.allow_origins.0"),
        ('[cors]\nallow_methods = ["TRACE"]\n', "cors.allow_methods.0"),
        ('[cors]\nallow_headers = ["x bad"]\n', "cors.allow_headers.0"),
        ("[cors]\nmax_age = -1\n", "cors.max_age"),
        ("[cors]\nmax_age = 999999\n", "cors.max_age"),
        ('[cors]\norigins = ["https://a.example"]\n', "cors.origins: unknown key"),
        (
            "[cors]\nallow_origins = ["
            + ", ".join(f'"https://p{n}.example.com"' for n in range(101))
            + "]\n",
            "cors.allow_origins",
        ),
    ],
)
def test_a_bad_cors_configuration_stops_the_start_naming_the_key(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(write(tmp_path, text))
    assert message in str(refused.value)
