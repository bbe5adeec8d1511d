"""Operation limits: a document that would cost too much is refused before validation,
planning or any subgraph call, with a message naming the limit and its value.

Driven through GraphQL over HTTP against the router's app over the test supergraph, with
every subgraph call counted; the gateway's own configuration is checked the same way.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from graphql import parse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from bench.abuse import CountingTransport
from federation.router import InProcessTransport, Router, Supergraph, build_app
from federation.router.limits import (
    DEFAULT_LIMITS,
    OperationLimits,
    OperationShape,
    measure_operations,
)
from federation.router.plan_cache import PlanCache
from gateway.app import create_app
from gateway.config import DEMO_CLIENTS, GatewayConfig
from tests.federation.conftest import SUPERGRAPH_PATH

GRAPHQL_RESPONSE = "application/graphql-response+json"


@dataclass
class Served:
    client: TestClient
    transports: dict[str, CountingTransport]

    @property
    def subgraph_calls(self) -> int:
        return sum(transport.calls for transport in self.transports.values())

    def post(self, query: str, accept: str = GRAPHQL_RESPONSE) -> Any:
        return self.client.post("/graphql", json={"query": query}, headers={"accept": accept})


def _serve(supergraph: Supergraph, limits: OperationLimits) -> Iterator[Served]:
    transports = {
        graph.name: CountingTransport(InProcessTransport.from_location(graph.name, graph.url))
        for graph in supergraph.graphs.values()
    }
    router = Router(supergraph, transports=transports, limits=limits)
    with TestClient(build_app(router)) as client:
        yield Served(client, transports)


@pytest.fixture(scope="module")
def supergraph() -> Supergraph:
    return Supergraph.from_sdl(SUPERGRAPH_PATH.read_text())


@pytest.fixture
def served(supergraph: Supergraph) -> Iterator[Served]:
    yield from _serve(supergraph, DEFAULT_LIMITS)


# -- documents just over and just under each default limit ---------------------------------


def nested(depth: int) -> str:
    """``me`` then reviews/author pairs: exactly ``depth`` levels of fields."""
    inner = "id"
    levels = ["reviews", "author"] * depth
    for name in reversed(levels[: depth - 2]):
        inner = f"{name} {{ {inner} }}"
    return f"{{ me {{ {inner} }} }}"


def aliased(count: int) -> str:
    return "{ me { " + " ".join(f"a{i}: id" for i in range(count)) + " } }"


def root_fields(count: int) -> str:
    return "{ " + "__typename " * count + "}"


def expanded_fields(count: int) -> str:
    """``me`` plus ``count - 1`` fields, all from spreads of fragments doubling each other."""
    assert 1 < count <= 1024
    spreads = [f"...F{level}" for level in range(9, -1, -1) if (count - 1) >> level & 1]
    fragments = ["fragment F0 on User { id }"] + [
        f"fragment F{i} on User {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, 10)
    ]
    return f"{{ me {{ {' '.join(spreads)} }} }} " + " ".join(fragments)


def tokens(count: int) -> str:
    """A valid query of exactly ``count`` tokens, comments included (as graphql-core counts)."""
    document = "{ me { id } }"  # 6 tokens
    return document + "\n#" * (count - 6)


def characters(count: int) -> str:
    document = "{ me { id } }\n#"
    return document + "x" * (count - len(document))


def same_field(count: int) -> str:
    return "{ me { " + "id " * count + "} }"


@dataclass(frozen=True)
class LimitCase:
    limit: str
    at_limit: str
    over_limit: str
    message: str


CASES = [
    LimitCase(
        "max_document_length",
        characters(32_768),
        characters(32_769),
        "The document has 32769 characters, over the limit of 32768 (limits.max_document_length).",
    ),
    LimitCase(
        "max_tokens",
        tokens(1_000),
        tokens(1_001),
        "The document has more than 1000 tokens, the limit (limits.max_tokens).",
    ),
    LimitCase(
        "max_depth",
        nested(20),
        nested(21),
        "The operation has depth 21, over the limit of 20 (limits.max_depth).",
    ),
    LimitCase(
        "max_aliases",
        aliased(30),
        aliased(31),
        "The operation has 31 aliases, over the limit of 30 (limits.max_aliases).",
    ),
    LimitCase(
        "max_root_fields",
        root_fields(20),
        root_fields(21),
        "The operation has 21 root fields, over the limit of 20 (limits.max_root_fields).",
    ),
    LimitCase(
        "max_fields",
        expanded_fields(1_000),
        expanded_fields(1_001),
        "The operation has 1001 fields after fragment expansion, over the limit of 1000 "
        "(limits.max_fields).",
    ),
    LimitCase(
        "max_field_merge_cost",
        same_field(30),
        same_field(200),
        "Checking that the operation's fields can be merged costs more than 2000, the limit "
        "(limits.max_field_merge_cost).",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.limit for case in CASES])
def test_a_document_over_a_limit_is_refused_with_the_limit_named(
    served: Served, case: LimitCase
) -> None:
    response = served.post(case.over_limit)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["message"] == case.message
    assert body["errors"][0]["extensions"] == {
        "code": "OPERATION_LIMIT_EXCEEDED",
        "limit": case.limit,
    }
    assert served.subgraph_calls == 0


@pytest.mark.parametrize("case", CASES, ids=[case.limit for case in CASES])
def test_a_document_at_a_limit_is_answered(served: Served, case: LimitCase) -> None:
    response = served.post(case.at_limit)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"][:2]
    assert body["data"]


def test_a_plain_json_client_gets_the_refusal_with_status_200(served: Served) -> None:
    response = served.post(aliased(31), accept="application/json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["errors"][0]["extensions"]["limit"] == "max_aliases"
    assert served.subgraph_calls == 0


def test_a_refusal_over_get_is_400_too(served: Served) -> None:
    response = served.client.get(
        "/graphql", params={"query": nested(21)}, headers={"accept": GRAPHQL_RESPONSE}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["limit"] == "max_depth"


def test_every_exceeded_limit_is_reported_at_once(served: Served) -> None:
    document = "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(31)) + " }"
    limits = {error["extensions"]["limit"] for error in served.post(document).json()["errors"]}
    assert limits == {"max_aliases", "max_root_fields"}


# -- fragment bombs and cycles -------------------------------------------------------------


def fragment_bomb(levels: int) -> str:
    lines = [f"{{ me {{ ...F{levels} }} }}", "fragment F0 on User { id username }"]
    lines += [f"fragment F{i} on User {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, levels + 1)]
    return "\n".join(lines)


def test_a_fragment_bomb_is_refused_before_any_subgraph_call(served: Served) -> None:
    document = fragment_bomb(60)  # 2**61 fields once expanded, in 2.4 KB
    assert len(document) < 2_500
    response = served.post(document)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"]["limit"] == "max_fields"
    assert f"has {2**61 + 1} fields after fragment expansion" in error["message"]
    assert served.subgraph_calls == 0


def test_fragment_cycles_are_a_validation_error(served: Served) -> None:
    document = "{ me { ...A } } fragment A on User { id ...B } fragment B on User { name ...A }"
    response = served.post(document)
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == (
        "Cannot spread fragment 'A' within itself via 'B'."
    )
    assert served.subgraph_calls == 0


def test_a_long_fragment_chain_is_measured_without_recursion(supergraph: Supergraph) -> None:
    """1500 fragments each nesting the next: deeper than Python's recursion limit."""
    count = 1_500
    fragments = " ".join(
        f"fragment F{i} on User {{ reviews {{ author {{ ...F{i + 1} }} }} }}" for i in range(count)
    )
    document = f"{{ me {{ ...F0 }} }} {fragments} fragment F{count} on User {{ id }}"
    limits = OperationLimits(max_document_length=None, max_tokens=None)
    served = next(_serve(supergraph, limits))
    with served.client:
        response = served.post(document)
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == (
        f"The operation has depth {2 * count + 2}, over the limit of 20 (limits.max_depth)."
    )
    assert served.subgraph_calls == 0


def test_an_accepted_fragment_heavy_document_is_answered_in_full(served: Served) -> None:
    document = fragment_bomb(8)  # 512 fields expanded, one response field of each name
    response = served.post(document)
    assert response.status_code == 200
    assert response.json() == {"data": {"me": {"id": "u1", "username": "ada"}}}


# -- the counter against naive expansion ---------------------------------------------------

_NAMES = ("a", "b", "c")


@st.composite
def documents(draw: st.DrawFn) -> str:
    """An operation and fragments; fragment i only spreads fragments after it (no cycles)."""
    fragment_count = draw(st.integers(0, 4))

    def selection_set(depth: int, first_fragment: int) -> str:
        items = []
        for _ in range(draw(st.integers(1, 3))):
            kind = draw(st.sampled_from(["field", "field", "inline", "spread"]))
            if kind == "spread" and first_fragment < fragment_count:
                items.append(f"...F{draw(st.integers(first_fragment, fragment_count - 1))}")
            elif kind == "inline" and depth < 3:
                items.append(f"... {selection_set(depth + 1, first_fragment)}")
            else:
                alias = f"x{draw(st.integers(0, 9))}: " if draw(st.booleans()) else ""
                name = draw(st.sampled_from(_NAMES))
                nested_set = (
                    " " + selection_set(depth + 1, first_fragment)
                    if depth < 3 and draw(st.booleans())
                    else ""
                )
                items.append(f"{alias}{name}{nested_set}")
        return "{ " + " ".join(items) + " }"

    fragments = [f"fragment F{i} on T {selection_set(0, i + 1)}" for i in range(fragment_count)]
    return " ".join([f"query {selection_set(0, 0)}", *fragments])


def naive_shape(document: str) -> OperationShape:
    """Expands every spread literally: exponential, fine for small documents."""
    ast = parse(document)
    fragments = {d.name.value: d for d in ast.definitions if d.kind == "fragment_definition"}
    operation = next(d for d in ast.definitions if d.kind == "operation_definition")
    totals = {"fields": 0, "aliases": 0, "root_fields": 0, "depth": 0}

    def walk(selection_set: Any, enclosing: int) -> None:
        for node in selection_set.selections:
            if node.kind == "field":
                totals["fields"] += 1
                totals["aliases"] += node.alias is not None
                totals["root_fields"] += enclosing == 0
                totals["depth"] = max(totals["depth"], enclosing + 1)
                if node.selection_set:
                    walk(node.selection_set, enclosing + 1)
            elif node.kind == "inline_fragment":
                walk(node.selection_set, enclosing)
            else:
                walk(fragments[node.name.value].selection_set, enclosing)

    walk(operation.selection_set, 0)
    return OperationShape(**totals)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_the_linear_count_equals_naive_expansion(document: str) -> None:
    [(_, shape)] = list(measure_operations(parse(document)))
    assert shape == naive_shape(document), document


# -- the plan cache ------------------------------------------------------------------------


def test_the_plan_cache_is_bounded_in_bytes_and_entries() -> None:
    cache: PlanCache[str] = PlanCache(max_entries=3, max_bytes=100)
    for index in range(5):
        cache.put(bytes([index]), f"plan {index}", 30)
    assert len(cache) == 3 and cache.size_bytes == 90
    assert cache.get(bytes([0])) is None and cache.get(bytes([4])) == "plan 4"
    cache.put(b"big", "too big for the whole cache", 101)
    assert cache.get(b"big") is None
    cache.put(b"large", "large", 70)  # 2 and 3 go: they were used least recently
    assert cache.size_bytes == 100 and len(cache) == 2
    assert cache.get(bytes([3])) is None and cache.get(bytes([4])) == "plan 4"
    assert cache.get(b"large") == "large"


def test_a_refused_document_is_refused_again_from_the_cache(supergraph: Supergraph) -> None:
    router = Router(supergraph)
    refusals = []
    for _ in range(2):
        with pytest.raises(Exception) as raised:
            router.prepare(fragment_bomb(40))
        refusals.append((raised.value, len(traceback.extract_tb(raised.value.__traceback__))))
    assert refusals[0][0] is refusals[1][0]
    assert refusals[0][1] == refusals[1][1], "a cached refusal collects tracebacks"


# -- the gateway's configuration -----------------------------------------------------------


def test_the_gateway_applies_its_configured_limits(tmp_path: Path) -> None:
    config = GatewayConfig(
        stores={"database_url": f"sqlite+aiosqlite:///{tmp_path}/gateway.sqlite3"},
        polling={"enabled": False},
        limits={"max_depth": 3},
    )
    api_key = DEMO_CLIENTS["portal-c1001"].api_key
    with TestClient(create_app(config)) as client:
        response = client.post(
            "/graphql",
            content=orjson.dumps({"query": "{ a { b { c { d } } } }"}),
            headers={
                "content-type": "application/json",
                "accept": GRAPHQL_RESPONSE,
                "x-api-key": api_key,
            },
        )
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == (
        "The operation has depth 4, over the limit of 3 (limits.max_depth)."
    )
