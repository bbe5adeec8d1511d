"""Persisted operations: automatic persisted queries (Apollo's APQ protocol) and trusted
documents from Apollo and Relay manifests, over HTTP POST and GET, WebSocket, SSE and
multipart, against the router over the test supergraph with every subgraph call counted."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient
from websockets.asyncio.client import connect

from bench.abuse import CountingTransport
from federation.router import InProcessTransport, RequestOptions, Router, Supergraph, build_app
from federation.router.limits import DEFAULT_LIMITS, OperationLimits
from federation.router.persisted import (
    APOLLO_FORMAT,
    ManifestError,
    MemoryDocuments,
    PersistedOperations,
    TrustedDocuments,
    load_manifests,
)
from federation.router.streaming import StreamShutdown
from tests.federation.conftest import SUPERGRAPH_PATH
from tests.federation.streams import serving

GRAPHQL_RESPONSE = "application/graphql-response+json"
ME = "{ me { id name } }"
TOP = "query Top($n: Int!) { topProducts(first: $n) { upc } }"
RENAME = 'mutation { renameProduct(upc: "1", name: "x") { upc } }'
TRUSTED = "query Trusted { me { username } }"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def extension(text_or_hash: str) -> dict[str, Any]:
    digest = text_or_hash if len(text_or_hash) == 64 else sha256(text_or_hash)
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


def apollo_manifest(path: Path, operations: list[dict[str, Any]]) -> Path:
    path.write_bytes(
        orjson.dumps({"format": APOLLO_FORMAT, "version": 1, "operations": operations})
    )
    return path


@pytest.fixture(scope="module")
def supergraph() -> Supergraph:
    return Supergraph.from_sdl(SUPERGRAPH_PATH.read_text())


@pytest.fixture(scope="module")
def trusted(tmp_path_factory: pytest.TempPathFactory) -> TrustedDocuments:
    directory = tmp_path_factory.mktemp("manifests")
    apollo = apollo_manifest(
        directory / "apollo.json",
        [
            {"id": sha256(TRUSTED), "body": TRUSTED, "name": "Trusted", "type": "query"},
            {"id": "top-products", "body": TOP, "name": "Top", "type": "query"},
        ],
    )
    relay_text = "query RelayMe { me { id } }"
    relay = directory / "relay.json"
    relay.write_bytes(orjson.dumps({hashlib.md5(relay_text.encode()).hexdigest(): relay_text}))
    return load_manifests([apollo, relay], DEFAULT_LIMITS)


@dataclass
class Served:
    client: TestClient
    transports: dict[str, CountingTransport]
    store: MemoryDocuments

    @property
    def subgraph_calls(self) -> int:
        return sum(transport.calls for transport in self.transports.values())

    def post(self, body: dict[str, Any], accept: str = GRAPHQL_RESPONSE) -> Any:
        return self.client.post("/graphql", json=body, headers={"accept": accept})

    def get(self, **params: Any) -> Any:
        encoded = {
            name: value if isinstance(value, str) else orjson.dumps(value).decode()
            for name, value in params.items()
        }
        return self.client.get("/graphql", params=encoded, headers={"accept": GRAPHQL_RESPONSE})


def build(
    supergraph: Supergraph,
    trusted: TrustedDocuments,
    *,
    registered_only: bool = False,
    apq: bool = True,
    store: MemoryDocuments | None = None,
) -> tuple[Router, dict[str, CountingTransport], MemoryDocuments, RequestOptions]:
    transports = {
        graph.name: CountingTransport(InProcessTransport.from_location(graph.name, graph.url))
        for graph in supergraph.graphs.values()
    }
    store = MemoryDocuments() if store is None else store
    router = Router(
        supergraph,
        transports=transports,
        persisted=PersistedOperations(trusted, store if apq else None),
    )
    return router, transports, store, RequestOptions(registered_operations_only=registered_only)


def serve(supergraph: Supergraph, trusted: TrustedDocuments, **settings: Any) -> Iterator[Served]:
    router, transports, store, options = build(supergraph, trusted, **settings)
    with TestClient(build_app(router, options=options)) as client:
        yield Served(client, transports, store)


@pytest.fixture
def served(supergraph: Supergraph, trusted: TrustedDocuments) -> Iterator[Served]:
    yield from serve(supergraph, trusted)


@pytest.fixture
def registered_only(supergraph: Supergraph, trusted: TrustedDocuments) -> Iterator[Served]:
    yield from serve(supergraph, trusted, registered_only=True)


# -- automatic persisted queries -------------------------------------------------------------


def test_an_unknown_hash_is_not_found_then_registered_then_run_by_hash(served: Served) -> None:
    missing = served.post({"extensions": extension(ME)})
    assert missing.status_code == 200
    assert missing.json() == {
        "errors": [
            {
                "message": "PersistedQueryNotFound",
                "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
            }
        ]
    }
    assert "no-cache" in missing.headers["cache-control"]
    assert served.subgraph_calls == 0
    registered = served.post({"query": ME, "extensions": extension(ME)})
    assert registered.json()["data"]["me"]["id"]
    by_hash = served.post({"extensions": extension(ME)})
    assert by_hash.json() == registered.json()
    assert len(served.store) == 1


def test_a_persisted_query_runs_with_get_from_the_query_string(served: Served) -> None:
    variables = {"n": 2}
    assert served.get(extensions=extension(TOP), variables=variables).status_code == 200
    registered = served.get(query=TOP, extensions=extension(TOP), variables=variables)
    assert len(registered.json()["data"]["topProducts"]) == 2
    by_hash = served.get(extensions=extension(TOP), variables={"n": 1})
    assert by_hash.status_code == 200
    assert len(by_hash.json()["data"]["topProducts"]) == 1


def test_a_persisted_mutation_is_refused_over_get(served: Served) -> None:
    served.post({"query": RENAME, "extensions": extension(RENAME)})
    calls = served.subgraph_calls
    refused = served.get(extensions=extension(RENAME))
    assert refused.status_code == 405
    assert served.subgraph_calls == calls


def test_a_hash_that_is_not_the_documents_is_refused_and_nothing_is_stored(
    served: Served,
) -> None:
    other = sha256("{ __typename }")
    refused = served.post({"query": ME, "extensions": extension(other)})
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_HASH_MISMATCH"
    assert served.subgraph_calls == 0
    assert len(served.store) == 0
    still_missing = served.post({"extensions": extension(other)})
    assert still_missing.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


@pytest.mark.parametrize(
    "persisted",
    [
        {"version": 1, "sha256Hash": "a" * 100_000},
        {"version": 1, "sha256Hash": "g" * 64},
        {"version": 1, "sha256Hash": "a" * 63},
        {"version": 1, "sha256Hash": 12345},
        {"version": 1},
        "abc",
        [1, 2],
    ],
)
def test_a_malformed_persisted_query_is_a_bad_request(served: Served, persisted: Any) -> None:
    refused = served.post({"extensions": {"persistedQuery": persisted}})
    assert refused.status_code == 400
    error = refused.json()["errors"][0]
    assert error["extensions"]["code"] == "PERSISTED_QUERY_INVALID"
    assert "a" * 100 not in error["message"], "the input is not echoed"
    assert served.subgraph_calls == 0


def test_an_unsupported_version_is_refused(served: Served) -> None:
    refused = served.post(
        {"extensions": {"persistedQuery": {"version": 2, "sha256Hash": "0" * 64}}}
    )
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_SUPPORTED"


def test_get_with_malformed_extensions_json_is_a_bad_request(served: Served) -> None:
    refused = served.client.get(
        "/graphql", params={"extensions": "{not json"}, headers={"accept": GRAPHQL_RESPONSE}
    )
    assert refused.status_code == 400
    assert "extensions parameter is not valid JSON" in refused.json()["errors"][0]["message"]


def test_documents_the_router_refuses_are_never_stored(served: Served) -> None:
    for document in ("{ nope }", "{ me { " * 30 + "id" + " }" * 31):
        answered = served.post({"query": document, "extensions": extension(document)})
        assert answered.status_code == 400
        missing = served.post({"extensions": extension(document)})
        assert missing.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert len(served.store) == 0 and served.subgraph_calls == 0


def test_without_apq_a_hash_alone_is_not_supported(
    supergraph: Supergraph, trusted: TrustedDocuments
) -> None:
    for served in serve(supergraph, trusted, apq=False):
        refused = served.post({"extensions": extension(ME)})
        assert refused.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_SUPPORTED"
        assert served.post({"query": ME, "extensions": extension(ME)}).status_code == 200
        again = served.post({"extensions": extension(ME)})
        assert again.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_SUPPORTED"


class PoisonedStore(MemoryDocuments):
    """A shared cache someone wrote to directly: it answers another text for a hash."""

    async def get(self, digest: str) -> str | None:
        return RENAME


def test_a_store_cannot_substitute_another_document_for_a_hash(
    supergraph: Supergraph, trusted: TrustedDocuments
) -> None:
    for served in serve(supergraph, trusted, store=PoisonedStore()):
        answered = served.post({"extensions": extension(ME)})
        assert answered.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        assert served.subgraph_calls == 0, "the mutation it held never ran"


async def test_the_memory_store_keeps_a_bounded_number_of_documents() -> None:
    store = MemoryDocuments(max_entries=3, max_bytes=1000)
    for number in range(10):
        await store.set(str(number), "x" * 100)
    assert len(store) == 3 and await store.get("9") and await store.get("0") is None
    await store.set("big", "x" * 2000)
    assert await store.get("big") is None, "a document over the byte bound is not kept"


# -- trusted documents -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"documentId": "top-products", "variables": {"n": 1}},
        {"id": "top-products", "variables": {"n": 1}},
        {"extensions": extension("0" * 0 + sha256(TOP)), "variables": {"n": 1}},
    ],
)
def test_a_trusted_document_runs_by_its_id_or_its_hash(served: Served, body: Any) -> None:
    answered = served.post(body)
    assert answered.status_code == 200
    assert len(answered.json()["data"]["topProducts"]) == 1


def test_a_relay_document_runs_by_its_id(served: Served) -> None:
    relay_id = hashlib.md5(b"query RelayMe { me { id } }").hexdigest()
    assert served.post({"documentId": relay_id}).json()["data"]["me"]["id"]


@pytest.mark.parametrize(
    ("body", "code", "status"),
    [
        ({"documentId": "no-such-document"}, "PERSISTED_QUERY_NOT_FOUND", 400),
        ({"documentId": "bad id with spaces"}, "PERSISTED_QUERY_INVALID", 400),
        ({"documentId": "x" * 10_000}, "PERSISTED_QUERY_INVALID", 400),
        ({"documentId": 42}, "PERSISTED_QUERY_INVALID", 400),
        ({"documentId": "top-products", "query": ME}, "PERSISTED_QUERY_INVALID", 400),
    ],
)
def test_a_bad_or_unknown_document_id_is_refused(
    served: Served, body: Any, code: str, status: int
) -> None:
    refused = served.post(body)
    assert refused.status_code == status
    assert refused.json()["errors"][0]["extensions"]["code"] == code
    assert served.subgraph_calls == 0


def test_a_registered_only_client_runs_trusted_documents_only(registered_only: Served) -> None:
    assert registered_only.post({"documentId": "top-products", "variables": {"n": 1}}).json()[
        "data"
    ]
    assert registered_only.post({"query": TRUSTED}).json()["data"]["me"]["username"]
    assert registered_only.post({"extensions": extension(TRUSTED)}).json()["data"]
    calls = registered_only.subgraph_calls
    for body in (
        {"query": ME},
        {"query": TRUSTED + " "},
        {"documentId": "no-such-document"},
        {"extensions": extension(ME)},
    ):
        refused = registered_only.post(body)
        assert refused.status_code == 400, body
        error = refused.json()["errors"][0]
        assert error["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"
        assert "registered operations only" in error["message"]
    assert registered_only.subgraph_calls == calls


def test_apq_registration_cannot_add_to_what_a_registered_only_client_may_run(
    supergraph: Supergraph, trusted: TrustedDocuments
) -> None:
    """One store serves two clients: APQ registered by one is not trusted for the other."""
    store = MemoryDocuments()
    router, _, _, _ = build(supergraph, trusted, store=store)
    restricted = RequestOptions(registered_operations_only=True)
    with (
        TestClient(build_app(router)) as anyone,
        TestClient(build_app(router, options=restricted)) as partner,
    ):
        headers = {"accept": GRAPHQL_RESPONSE}
        anyone.post("/graphql", json={"query": ME, "extensions": extension(ME)}, headers=headers)
        assert len(store) == 1
        refused = partner.post("/graphql", json={"extensions": extension(ME)}, headers=headers)
        assert refused.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"
        attempt = {"query": "{ __typename }", "extensions": extension("{ __typename }")}
        registering = partner.post("/graphql", json=attempt, headers=headers)
        assert registering.json()["errors"][0]["extensions"]["code"] == (
            "PERSISTED_QUERY_NOT_IN_LIST"
        )
        assert len(store) == 1, "a registered-only client registers nothing"


# -- streaming transports --------------------------------------------------------------------


async def test_websocket_sse_and_multipart_run_persisted_operations(
    supergraph: Supergraph, trusted: TrustedDocuments
) -> None:
    router, _, store, options = build(supergraph, trusted)
    await store.set(sha256(ME), ME)
    shutdown = StreamShutdown()
    app = build_app(router, options=options, shutdown=shutdown)
    with serving(app, shutdown) as server:
        async with connect(server.ws, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            await ws.send(orjson.dumps({"type": "connection_init"}).decode())
            await asyncio.wait_for(ws.recv(), 5)
            for number, payload in enumerate(
                [
                    {"extensions": extension(ME)},
                    {"documentId": "top-products", "variables": {"n": 1}},
                    {"extensions": extension(sha256("{ unknown }"))},
                    {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "zz"}}},
                ]
            ):
                message = {"id": str(number), "type": "subscribe", "payload": payload}
                await ws.send(orjson.dumps(message).decode())
            answers = {}
            while len(answers) < 4:
                message = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
                if message["type"] != "complete":
                    answers[message["id"]] = message
        assert answers["0"]["payload"]["data"]["me"]["id"]
        assert answers["1"]["payload"]["data"]["topProducts"]
        assert answers["2"]["payload"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        assert answers["3"]["payload"][0]["extensions"]["code"] == "PERSISTED_QUERY_INVALID"
        import httpx

        async with httpx.AsyncClient(timeout=5) as client:
            sse = await client.post(
                server.http,
                json={"extensions": extension(ME)},
                headers={"accept": "text/event-stream"},
            )
            assert '"me"' in sse.text
            sse_missing = await client.post(
                server.http,
                json={"extensions": extension(sha256("{ gone }"))},
                headers={"accept": "text/event-stream"},
            )
            assert "PERSISTED_QUERY_NOT_FOUND" in sse_missing.text
            sse_bad = await client.get(
                server.http,
                params={"extensions": orjson.dumps({"persistedQuery": 5}).decode()},
                headers={"accept": "text/event-stream"},
            )
            assert sse_bad.status_code == 400
            multipart = await client.post(
                server.http,
                json={"extensions": extension(ME)},
                headers={"accept": "multipart/mixed;subscriptionSpec=1.0, application/json"},
            )
            assert multipart.json()["data"]["me"]["id"]


# -- manifests -------------------------------------------------------------------------------


def relay_manifest(path: Path, entries: dict[str, str]) -> Path:
    path.write_bytes(orjson.dumps(entries))
    return path


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"{not json", r"bad\.json: not valid JSON"),
        (b"[1, 2]", r"bad\.json: a manifest is a JSON object"),
        (
            orjson.dumps({"format": "something-else", "version": 1, "operations": []}),
            "format must be 'apollo-persisted-query-manifest'",
        ),
        (orjson.dumps({"format": APOLLO_FORMAT, "version": 2, "operations": []}), "version must"),
        (orjson.dumps({"format": APOLLO_FORMAT, "version": 1, "operations": {}}), "must be a list"),
        (
            orjson.dumps({"format": APOLLO_FORMAT, "version": 1, "operations": [{"id": "a"}]}),
            r"operations\[0\] \('a'\): the body must be a non-empty string",
        ),
        (
            orjson.dumps(
                {"format": APOLLO_FORMAT, "version": 1, "operations": [{"id": "a b", "body": ME}]}
            ),
            r"operations\[0\]: the id must be",
        ),
        (
            orjson.dumps(
                {
                    "format": APOLLO_FORMAT,
                    "version": 1,
                    "operations": [{"id": "ok", "body": ME}, {"id": sha256(ME), "body": TOP}],
                }
            ),
            r"operations\[1\] \('[0-9a-f]{64}'\): the id is not the SHA-256 of the body",
        ),
        (
            orjson.dumps(
                {"format": APOLLO_FORMAT, "version": 1, "operations": [{"id": "x", "body": "{"}]}
            ),
            r"operations\[0\] \('x'\): Syntax Error",
        ),
        (
            orjson.dumps(
                {
                    "format": APOLLO_FORMAT,
                    "version": 1,
                    "operations": [{"id": "x", "body": ME, "type": "delete"}],
                }
            ),
            "type must be query, mutation or subscription",
        ),
        (orjson.dumps({"not-a-hash": ME}), r"entry 'not-a-hash': a Relay id is the MD5"),
        (orjson.dumps({"0" * 32: ME}), r"entry '0{32}': the id is not the MD5 of the text"),
        (orjson.dumps({sha256(ME): 7}), "the body must be a non-empty string"),
    ],
)
def test_a_bad_manifest_is_refused_naming_its_file_and_entry(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(ManifestError, match=expected) as refused:
        load_manifests([path], DEFAULT_LIMITS)
    assert str(path) in str(refused.value)


def test_a_two_megabyte_manifest_entry_is_refused_by_the_operation_limits(tmp_path: Path) -> None:
    huge = "{ me { id } }" + " " * (2 * 1024 * 1024)
    path = apollo_manifest(tmp_path / "huge.json", [{"id": "huge", "body": huge}])
    with pytest.raises(ManifestError) as refused:
        load_manifests([path], DEFAULT_LIMITS)
    message = str(refused.value)
    assert "operations[0] ('huge')" in message and "limits.max_document_length" in message
    assert len(message) < 500, "the body is not echoed"
    assert load_manifests([path], OperationLimits.unlimited()).find("huge") is not None


def test_one_id_in_two_manifests_must_name_one_document(tmp_path: Path) -> None:
    first = apollo_manifest(tmp_path / "one.json", [{"id": "shared", "body": ME}])
    second = apollo_manifest(tmp_path / "two.json", [{"id": "shared", "body": TOP}])
    with pytest.raises(ManifestError, match="'shared' has another body"):
        load_manifests([first, second], DEFAULT_LIMITS)
    again = apollo_manifest(tmp_path / "three.json", [{"id": "shared", "body": ME}])
    assert len(load_manifests([first, again], DEFAULT_LIMITS)) == 1


def test_a_missing_manifest_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"absent\.json: cannot be read"):
        load_manifests([tmp_path / "absent.json"], DEFAULT_LIMITS)


def test_relay_ids_may_be_sha1_or_sha256_of_their_text(tmp_path: Path) -> None:
    path = relay_manifest(
        tmp_path / "relay.json",
        {hashlib.sha1(ME.encode()).hexdigest(): ME, sha256(TOP): TOP},
    )
    trusted = load_manifests([path], DEFAULT_LIMITS)
    assert trusted.find(sha256(TOP)) is not None and trusted.find(sha256(ME)) is not None
