"""GraphQL over HTTP: methods, media types and status codes as the specification sets them."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from starlette.testclient import TestClient

from federation.router import Router, Supergraph, build_app

GRAPHQL_RESPONSE = "application/graphql-response+json"


@pytest.fixture
def client(supergraph: Supergraph) -> Iterator[TestClient]:
    with TestClient(build_app(Router(supergraph))) as test_client:
        yield test_client


def test_post_json_query(client: TestClient) -> None:
    response = client.post("/graphql", json={"query": '{ product(upc: "p1") { name } }'})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"data": {"product": {"name": "Pallet jack"}}}


def test_graphql_response_media_type_when_accepted(client: TestClient) -> None:
    response = client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"accept": GRAPHQL_RESPONSE}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert response.json() == {"data": {"__typename": "Query"}}


def test_get_query_with_variables(client: TestClient) -> None:
    response = client.get(
        "/graphql",
        params={
            "query": "query ($upc: String!) { product(upc: $upc) { name } }",
            "variables": orjson.dumps({"upc": "p2"}).decode(),
        },
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"product": {"name": "Stretch wrap"}}}


def test_mutation_over_get_is_405(client: TestClient) -> None:
    response = client.get(
        "/graphql", params={"query": 'mutation { renameProduct(upc: "p1", name: "x") { name } }'}
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_validation_error_is_400_for_graphql_response_json(client: TestClient) -> None:
    response = client.post(
        "/graphql", json={"query": "{ nope }"}, headers={"accept": GRAPHQL_RESPONSE}
    )
    assert response.status_code == 400
    assert "data" not in response.json()
    assert response.json()["errors"]


def test_validation_error_is_200_for_application_json(client: TestClient) -> None:
    response = client.post(
        "/graphql", json={"query": "{ nope }"}, headers={"accept": "application/json"}
    )
    assert response.status_code == 200
    assert response.json()["errors"]


def test_parse_error_is_400_for_graphql_response_json(client: TestClient) -> None:
    response = client.post("/graphql", json={"query": "{"}, headers={"accept": GRAPHQL_RESPONSE})
    assert response.status_code == 400


def test_bad_json_body_is_400(client: TestClient) -> None:
    response = client.post(
        "/graphql", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400


def test_missing_query_is_400(client: TestClient) -> None:
    assert client.post("/graphql", json={"variables": {}}).status_code == 400


def test_unsupported_media_type_is_415(client: TestClient) -> None:
    response = client.post(
        "/graphql", content=b"{ __typename }", headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415


def test_unacceptable_accept_header_is_406(client: TestClient) -> None:
    response = client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"accept": "text/csv"}
    )
    assert response.status_code == 406


def test_health(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_graphiql_has_a_page_of_its_own_pointing_at_the_endpoint(client: TestClient) -> None:
    response = client.get("/graphiql")
    assert response.status_code == 200
    assert 'createFetcher({ url: "/graphql" })' in response.text
    browser = client.get("/graphql", headers={"accept": "text/html"})
    assert "text/html" not in browser.headers.get("content-type", "")


def test_query_plan_in_extensions_on_request(client: TestClient) -> None:
    response = client.post(
        "/graphql",
        json={"query": '{ product(upc: "p1") { name inStock } }'},
        headers={"x-query-plan": "true"},
    )
    plan = response.json()["extensions"]["queryPlan"]
    assert [fetch["subgraph"] for fetch in plan["fetches"]] == ["PRODUCTS", "INVENTORY"]


def test_internal_errors_do_not_leak(supergraph: Supergraph) -> None:
    class Exploding(Router):
        async def execute(self, *args: object, **kwargs: object) -> dict:
            raise RuntimeError("secret internals")

    with TestClient(build_app(Exploding(supergraph))) as test_client:
        response = test_client.post("/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 500
    assert "secret" not in response.text
    assert "Traceback" not in response.text


def test_a_body_over_the_bound_is_413(supergraph: Supergraph) -> None:
    with TestClient(build_app(Router(supergraph), max_body_bytes=1024)) as small:
        response = small.post(
            "/graphql", json={"query": "{ __typename }", "variables": {"pad": "x" * 2048}}
        )
        fits = small.post("/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 413
    assert response.json()["errors"][0]["message"] == "The request body exceeds 1024 bytes."
    assert fits.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        b"[1, 2]",
        b'{"query": "{ me { id } }", "variables": [1]}',
        b'{"query": "{ me { id } }", "operationName": 7}',
        b'{"query": ""}',
    ],
)
def test_a_body_that_is_not_a_graphql_request_is_400(client: TestClient, body: bytes) -> None:
    response = client.post("/graphql", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"]


def test_variables_that_are_not_json_in_a_get_are_400(client: TestClient) -> None:
    response = client.get("/graphql", params={"query": "{ me { id } }", "variables": "{oops"})
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        ("application/json;q=0.5, application/graphql-response+json", GRAPHQL_RESPONSE),
        ("application/graphql-response+json;q=bad, application/json", "application/json"),
        ("text/plain, */*;q=0.1", "application/json"),
    ],
)
def test_the_accept_header_picks_the_media_type_by_quality(
    client: TestClient, accept: str, media_type: str
) -> None:
    response = client.post("/graphql", json={"query": "{ me { id } }"}, headers={"accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
