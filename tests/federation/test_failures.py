"""What the router does when subgraphs fail, time out or answer badly."""

from __future__ import annotations

from typing import Any

import pytest

from federation.router import Router, SubgraphError, SubgraphRequest, Supergraph

pytestmark = pytest.mark.asyncio


class _Down:
    async def execute(self, request: SubgraphRequest) -> dict[str, Any]:
        raise SubgraphError(request.subgraph, 'Subgraph "accounts" could not be reached')

    async def aclose(self) -> None:
        return None


class _Answers:
    def __init__(self, response: dict[str, Any]) -> None:
        self.response = response
        self.requests: list[SubgraphRequest] = []

    async def execute(self, request: SubgraphRequest) -> dict[str, Any]:
        self.requests.append(request)
        return self.response

    async def aclose(self) -> None:
        return None


async def test_unreachable_entity_subgraph_gives_partial_data(supergraph: Supergraph) -> None:
    router = Router(supergraph, transports={"accounts": _Down()})
    result = await router.execute('{ product(upc: "p2") { name reviews { author { name } } } }')
    # author.name is non-null all the way up to the nullable product.
    assert result["data"] == {"product": None}
    assert any("could not be reached" in e["message"] for e in result["errors"])
    assert result["errors"][0]["path"][:2] == ["product", "reviews"]


async def test_entity_errors_are_repathed_to_client_paths(supergraph: Supergraph) -> None:
    accounts = _Answers(
        {
            "data": {"_entities": [{"name": "Bob"}, None]},
            "errors": [{"message": "no such user", "path": ["_entities", 1, "name"]}],
        }
    )
    router = Router(supergraph, transports={"accounts": accounts})
    result = await router.execute('{ product(upc: "p2") { reviews { body author { name } } } }')
    assert {"message": "no such user", "path": ["product", "reviews", 1, "author", "name"]} in (
        result["errors"]
    )


async def test_representations_are_deduplicated_in_one_batch(supergraph: Supergraph) -> None:
    accounts = _Answers({"data": {"_entities": [{"name": "Ada"}, {"name": "Bob"}]}})
    router = Router(supergraph, transports={"accounts": accounts})
    result = await router.execute("{ latestReviews { author { name } } }")
    assert len(accounts.requests) == 1
    representations = accounts.requests[0].variables["representations"]
    assert sorted(r["id"] for r in representations) == ["u1", "u2"]
    assert len(result["data"]["latestReviews"]) == 3


async def test_wrong_entity_count_is_an_error_not_a_crash(supergraph: Supergraph) -> None:
    accounts = _Answers({"data": {"_entities": []}})
    router = Router(supergraph, transports={"accounts": accounts})
    result = await router.execute('{ product(upc: "p1") { reviews { author { name } } } }')
    assert result["errors"]


async def test_http_subgraph_timeout_is_reported_with_partial_data(
    supergraph: Supergraph, http_subgraphs: dict[str, str]
) -> None:
    router = Router(supergraph, subgraphs=http_subgraphs, timeout=0.3)
    try:
        result = await router.execute('{ slow product(upc: "p1") { name } }')
    finally:
        await router.aclose()
    assert result["data"] is None or result["data"].get("slow") is None
    assert any(e["extensions"]["code"] == "SUBGRAPH_TIMEOUT" for e in result["errors"])


async def test_unreachable_http_subgraph_is_an_error(supergraph: Supergraph) -> None:
    from tests.federation.conftest import free_port

    dead = f"http://127.0.0.1:{free_port()}/graphql"
    router = Router(supergraph, subgraphs={"products": dead})
    try:
        result = await router.execute("{ topProducts { name } }")
    finally:
        await router.aclose()
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["serviceName"] == "products"


def _codes(result: dict[str, Any]) -> list[str | None]:
    return [e.get("extensions", {}).get("code") for e in result.get("errors", [])]


@pytest.mark.parametrize(
    "answer",
    [
        {"errors": ["boom"]},
        {"errors": [{"path": ["topProducts"]}]},
        {"errors": "boom"},
        {"data": ["boom"]},
        {"data": "boom", "errors": [None]},
        ["boom"],
    ],
)
async def test_an_off_spec_root_answer_is_a_neutral_error(
    supergraph: Supergraph, answer: Any
) -> None:
    router = Router(supergraph, transports={"products": _Answers(answer)})
    result = await router.execute("{ topProducts { name } }")
    assert result["data"] is None
    from_subgraph = [e for e in result["errors"] if e.get("extensions")]
    assert from_subgraph
    for error in from_subgraph:
        assert error["extensions"] == {
            "code": "SUBGRAPH_INVALID_RESPONSE",
            "serviceName": "products",
        }
        assert error["message"].startswith('Subgraph "products" returned ')
    assert "boom" not in str(result)


async def test_the_well_formed_part_of_an_off_spec_answer_survives(supergraph: Supergraph) -> None:
    answer = {"data": {"topProducts": [{"name": "Jack"}]}, "errors": [{"message": "slow"}, 7]}
    router = Router(supergraph, transports={"products": _Answers(answer)})
    result = await router.execute("{ topProducts { name } }")
    assert result["data"] == {"topProducts": [{"name": "Jack"}]}
    assert result["errors"][0] == {"message": "slow"}
    assert _codes(result)[1] == "SUBGRAPH_INVALID_RESPONSE"


async def test_an_entity_of_the_wrong_type_is_an_error_at_its_place(
    supergraph: Supergraph,
) -> None:
    accounts = _Answers({"data": {"_entities": [{"name": "Ada"}, "Bob"]}})
    router = Router(supergraph, transports={"accounts": accounts})
    result = await router.execute('{ product(upc: "p2") { reviews { body author { name } } } }')
    (invalid,) = [e for e in result["errors"] if e.get("extensions")]
    assert invalid["extensions"]["code"] == "SUBGRAPH_INVALID_RESPONSE"
    assert invalid["path"] == ["product", "reviews", 1, "author"]
    assert "Bob" not in str(result)


async def test_an_entity_error_without_message_keeps_its_place(supergraph: Supergraph) -> None:
    accounts = _Answers(
        {"data": {"_entities": [{"name": "Bob"}, None]}, "errors": [{"path": ["_entities", 1]}]}
    )
    router = Router(supergraph, transports={"accounts": accounts})
    result = await router.execute('{ product(upc: "p2") { reviews { body author { name } } } }')
    assert {
        "message": 'Subgraph "accounts" returned an error without a message.',
        "path": ["product", "reviews", 1, "author"],
        "extensions": {"code": "SUBGRAPH_INVALID_RESPONSE", "serviceName": "accounts"},
    } in result["errors"]


async def test_a_failed_fetch_costs_no_call_to_the_fetches_after_it(
    supergraph: Supergraph,
) -> None:
    later = {name: _Answers({"data": {"_entities": []}}) for name in ("inventory", "reviews")}
    router = Router(supergraph, transports={"products": _Answers({"errors": ["boom"]}), **later})
    plan = router.plan("{ topProducts { name inStock reviews { body } } }")
    assert {fetch.subgraph for fetch in plan.fetches} == {"PRODUCTS", "INVENTORY", "REVIEWS"}
    result = await router.execute("{ topProducts { name inStock reviews { body } } }")
    assert result["data"] is None
    assert [len(transport.requests) for transport in later.values()] == [0, 0]


@pytest.mark.parametrize(
    ("subgraph", "query", "answer", "data", "message"),
    [
        (
            "products",
            '{ product(upc: "p1") { upc price } }',
            {"product": {"upc": "p1", "price": "900"}},
            {"product": None},
            "Invalid value for Int field price.",
        ),
        (
            "products",
            '{ product(upc: "p1") { category } }',
            {"product": {"category": "NOPE"}},
            {"product": {"category": None}},
            "Invalid value for enum Category field category.",
        ),
        (
            "products",
            "{ topProducts { upc } }",
            {"topProducts": {"upc": "p1"}},
            None,
            "Expected a list for field topProducts.",
        ),
        (
            "products",
            '{ product(upc: "p1") { upc } }',
            {"product": "p1"},
            {"product": None},
            "Expected an object for field product.",
        ),
        (
            "reviews",
            '{ search(text: "a") { __typename } }',
            {"search": [{"__typename": "Bogus"}]},
            None,
            "Abstract type SearchResult resolved to an unknown type 'Bogus' for field search.",
        ),
        (
            "accounts",
            '{ user(id: "u1") { id } }',
            {"user": {"id": 7, "__typename": "User"}},
            {"user": {"id": "7"}},
            None,
        ),
    ],
)
async def test_values_of_the_wrong_type_become_null_with_an_error(
    supergraph: Supergraph,
    subgraph: str,
    query: str,
    answer: dict[str, Any],
    data: Any,
    message: str | None,
) -> None:
    router = Router(supergraph, transports={subgraph: _Answers({"data": answer})})
    result = await router.execute(query)
    assert result["data"] == data
    assert [e["message"] for e in result.get("errors", [])] == ([message] if message else [])


async def test_subgraph_error_extensions_reach_the_client_without_internals(
    supergraph: Supergraph,
) -> None:
    answer = {
        "data": {"topProducts": []},
        "errors": [
            {
                "message": "partial",
                "path": ["topProducts"],
                "extensions": {"code": "PARTIAL", "exception": {"stacktrace": ["x"]}},
            }
        ],
    }
    result = await Router(supergraph, transports={"products": _Answers(answer)}).execute(
        "{ topProducts { name } }"
    )
    assert result["errors"] == [
        {"message": "partial", "path": ["topProducts"], "extensions": {"code": "PARTIAL"}}
    ]


@pytest.mark.parametrize("answer", [{"data": {}}, {"data": None}, {"data": {"_entities": None}}])
async def test_an_entity_answer_without_entities_is_an_error_at_the_objects(
    supergraph: Supergraph, answer: dict[str, Any]
) -> None:
    router = Router(supergraph, transports={"accounts": _Answers(answer)})
    result = await router.execute('{ product(upc: "p2") { name reviews { author { name } } } }')
    assert result["errors"][0] == {
        "message": 'Subgraph "accounts" returned no entities',
        "extensions": {"code": "SUBGRAPH_REQUEST_FAILED", "serviceName": "accounts"},
        "path": ["product", "reviews", 0, "author"],
    }
