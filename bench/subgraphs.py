"""The three benchmark subgraphs as one lean ASGI app (paths /orders, /shipments, /tracking).

Both gateways under test share these subgraphs, so they must cost as little as possible:
a raw ASGI handler (no framework), graphql-core executing a schema built once, and the
response bytes memoised per request body. The data is deterministic and the benchmark
repeats identical fetches, so after the first request every fetch is a dict lookup.

Run: uvicorn bench.subgraphs:app --port 4101 (the harness does this itself).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    GraphQLUnionType,
    OperationDefinitionNode,
    OperationType,
    build_schema,
    execute,
    parse,
    validate,
)

from bench import schemas

Scope = Mapping[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_FEDERATION_DEFS = """
scalar _Any
scalar link__Import
directive @key(fields: String!, resolvable: Boolean = true) repeatable on OBJECT | INTERFACE
directive @link(url: String!, import: [link__Import]) repeatable on SCHEMA
type _Service { sdl: String }
"""

_ENTITY_RESOLVERS: dict[str, dict[str, Callable[[str], dict[str, Any]]]] = {
    "orders": {"Order": lambda i: schemas.order(int(i.rsplit("-", 1)[1]))},
    "shipments": {"Order": schemas.order_shipping, "Shipment": schemas.shipment},
    "tracking": {"Shipment": schemas.tracking},
}

_MEMO_LIMIT = 4096
"""Bound on memoised responses per process; the benchmark needs a handful."""

_DOC_LIMIT = 256


class Subgraph:
    """One executable federation subgraph: schema, root values and caches."""

    def __init__(self, name: str, sdl: str) -> None:
        self.name = name
        self.sdl = sdl
        entity_types = sorted(_ENTITY_RESOLVERS[name])
        root = "extend type Query" if "type Query" in sdl else "type Query"
        exec_sdl = (
            sdl
            + _FEDERATION_DEFS
            + f"union _Entity = {' | '.join(entity_types)}\n"
            + f"{root} {{ _entities(representations: [_Any!]!): [_Entity]! "
            + "_service: _Service! }\n"
        )
        self.schema: GraphQLSchema = build_schema(exec_sdl)
        entity_union = self.schema.get_type("_Entity")
        assert isinstance(entity_union, GraphQLUnionType)
        entity_union.resolve_type = lambda obj, _info, _type: obj["__typename"]
        self.root = {
            "orders": lambda _info, first=schemas.ORDER_COUNT: [
                schemas.order(i) for i in range(min(first, 1000))
            ],
            "order": lambda _info, id: schemas.order(int(id.rsplit("-", 1)[1])),
            "_entities": self._entities,
            "_service": lambda _info: {"sdl": self.sdl},
            "bookPickup": self._book_pickup,
        }
        self.docs: dict[str, DocumentNode | list[GraphQLError]] = {}
        self.memo: dict[bytes, bytes] = {}
        self.pickups: dict[str, int] = {}

    def _book_pickup(self, _info: Any, reference: str, orderId: str) -> dict[str, Any]:
        """A side effect a gateway must cause once per executed mutation field."""
        if len(self.pickups) >= _MEMO_LIMIT:
            self.pickups.clear()
        booking = f"{reference}/{orderId}"
        count = self.pickups[booking] = self.pickups.get(booking, 0) + 1
        return {"count": count, "order": schemas.order(int(orderId.rsplit("-", 1)[1]))}

    def _entities(self, _info: Any, representations: list[dict[str, Any]]) -> list[Any]:
        """Resolve each representation by its typename and key; unknown ones give null."""
        resolvers = _ENTITY_RESOLVERS[self.name]
        out: list[Any] = []
        for rep in representations:
            fn = resolvers.get(rep.get("__typename", ""))
            out.append(fn(rep["id"]) if fn and "id" in rep else None)
        return out

    def _document(self, query: str) -> DocumentNode | list[GraphQLError]:
        """Parse and validate once per query text."""
        doc = self.docs.get(query)
        if doc is None:
            try:
                parsed = parse(query)
                errors = validate(self.schema, parsed)
                doc = errors if errors else parsed
            except GraphQLError as exc:
                doc = [exc]
            if len(self.docs) >= _DOC_LIMIT:
                self.docs.clear()
            self.docs[query] = doc
        return doc

    def respond(self, body: bytes) -> bytes:
        """Answer one GraphQL-over-HTTP POST body, memoised on the exact bytes."""
        cached = self.memo.get(body)
        if cached is not None:
            return cached
        try:
            req = orjson.loads(body)
            doc = self._document(req["query"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return orjson.dumps({"errors": [{"message": "bad request"}]})
        if isinstance(doc, list):
            result: dict[str, Any] = {"errors": [e.formatted for e in doc]}
        else:
            res = execute(
                self.schema,
                doc,
                root_value=self.root,
                variable_values=req.get("variables"),
                operation_name=req.get("operationName"),
                field_resolver=_field_resolver,
            )
            assert not isinstance(res, Awaitable)
            result = {"data": res.data}
            if res.errors:
                result["errors"] = [e.formatted for e in res.errors]
            if _is_mutation(doc):
                return orjson.dumps(result)
        out = orjson.dumps(result)
        if len(self.memo) >= _MEMO_LIMIT:
            self.memo.clear()
        self.memo[body] = out
        return out


def _is_mutation(document: DocumentNode) -> bool:
    return any(
        isinstance(d, OperationDefinitionNode) and d.operation == OperationType.MUTATION
        for d in document.definitions
    )


def _field_resolver(source: Any, info: Any, **args: Any) -> Any:
    """Root fields are callables on the root dict; everything else is a dict key."""
    value = source.get(info.field_name) if isinstance(source, Mapping) else None
    if callable(value):
        return value(info, **args)
    return value


SUBGRAPHS: dict[str, Subgraph] = {
    "/" + name: Subgraph(name, sdl) for name, sdl in schemas.SUBGRAPHS.items()
}

_JSON_HEADERS = [(b"content-type", b"application/json")]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """ASGI entry: POST /<subgraph> runs GraphQL, GET /health answers ok."""
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    path: str = scope["path"].rstrip("/") or "/"
    sub = SUBGRAPHS.get(path)
    if scope["method"] == "GET" and path == "/health":
        status, payload = 200, b'{"status":"ok"}'
    elif sub is None or scope["method"] != "POST":
        status, payload = 404, b'{"errors":[{"message":"not found"}]}'
    else:
        chunks: list[bytes] = []
        more = True
        while more:
            msg = await receive()
            chunks.append(msg.get("body", b""))
            more = msg.get("more_body", False)
        status, payload = 200, sub.respond(b"".join(chunks))
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*_JSON_HEADERS, (b"content-length", str(len(payload)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": payload})


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(
        "bench.subgraphs:app",
        host="127.0.0.1",
        port=int(os.environ.get("BENCH_SUBGRAPH_PORT", "4101")),
        log_level="warning",
        access_log=False,
    )
