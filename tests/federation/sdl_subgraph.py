"""A federation subgraph from SDL and plain data, executed by graphql-core in this process.

For planner scenarios that need a few small subgraphs each: the SDL is what composition
reads, the data answers root fields (a value, or a function of the arguments) and
``_entities`` (a function per entity type from representation to object). It records every
request, so a test can check what the router sent.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from graphql import GraphQLUnionType, build_schema, graphql

from federation.composition import SubgraphSource
from federation.router import SubgraphRequest

_FEDERATION = """
scalar _Any
scalar FieldSet
scalar link__Import
directive @link(url: String!, import: [link__Import]) repeatable on SCHEMA
directive @key(fields: FieldSet!, resolvable: Boolean = true) repeatable on OBJECT | INTERFACE
directive @requires(fields: FieldSet!) on FIELD_DEFINITION
directive @provides(fields: FieldSet!) on FIELD_DEFINITION
directive @external on FIELD_DEFINITION | OBJECT
directive @shareable repeatable on FIELD_DEFINITION | OBJECT
"""

Resolve = Callable[[dict[str, Any]], dict[str, Any] | None]


class SdlSubgraph:
    """One subgraph: its SDL for composition and a transport the router can call."""

    def __init__(
        self,
        name: str,
        sdl: str,
        root: Mapping[str, Any] | None = None,
        entities: Mapping[str, Resolve] | None = None,
    ) -> None:
        self.name = name
        self.sdl = sdl
        self.root = dict(root or {})
        self.entities = dict(entities or {})
        self.requests: list[SubgraphRequest] = []
        executable = sdl + _FEDERATION
        if self.entities:
            executable += f"union _Entity = {' | '.join(sorted(self.entities))}\n"
            executable += "extend type Query { _entities(representations: [_Any!]!): [_Entity]! }\n"
        if "type Query" not in sdl:
            executable = executable.replace("extend type Query", "type Query")
        self.schema = build_schema(executable)
        entity_union = self.schema.get_type("_Entity")
        if isinstance(entity_union, GraphQLUnionType):
            entity_union.resolve_type = lambda value, _info, _type: value["__typename"]
        for type_name in self.schema.type_map:
            named = self.schema.type_map[type_name]
            if hasattr(named, "resolve_type") and not type_name.startswith("_"):
                named.resolve_type = lambda value, _info, _type: value["__typename"]  # type: ignore[union-attr]

    @property
    def source(self) -> SubgraphSource:
        return SubgraphSource(self.name, f"http://{self.name}.invalid/graphql", self.sdl)

    async def execute(self, request: SubgraphRequest) -> dict[str, Any]:
        self.requests.append(request)
        root = {**self.root, "_entities": self._entities}
        result = await graphql(
            self.schema,
            request.query,
            root_value=root,
            variable_values=request.variables,
            field_resolver=_resolve_field,
        )
        response: dict[str, Any] = {"data": result.data}
        if result.errors:
            response["errors"] = [error.formatted for error in result.errors]
        return response

    async def aclose(self) -> None:
        return None

    def _entities(self, representations: list[dict[str, Any]]) -> list[Any]:
        found = []
        for representation in representations:
            resolve = self.entities.get(representation["__typename"])
            entity = resolve(representation) if resolve else None
            found.append(
                None if entity is None else {"__typename": representation["__typename"], **entity}
            )
        return found


def _resolve_field(source: Any, info: Any, **arguments: Any) -> Any:
    """Dictionary keys; a callable value is called with the field's arguments."""
    value = source.get(info.field_name) if isinstance(source, Mapping) else None
    if callable(value):
        accepted = inspect.signature(value).parameters
        return value(**{k: v for k, v in arguments.items() if k in accepted})
    return value
