"""Helpers for composition tests: compose inline SDL and read the result back as data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from graphql import build_ast_schema, parse, print_ast
from graphql.language import (
    DocumentNode,
    EnumTypeDefinitionNode,
    InputObjectTypeDefinitionNode,
    InterfaceTypeDefinitionNode,
    ObjectTypeDefinitionNode,
    TypeDefinitionNode,
)

from federation.composition import CompositionError, CompositionResult, SubgraphSource, compose

FED2 = (
    'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key",'
    ' "@shareable", "@external", "@requires", "@provides", "@override", "@inaccessible", "@tag",'
    ' "@interfaceObject", "@authenticated", "@requiresScopes", "@policy", "@extends"])\n'
)


@dataclass(frozen=True)
class Supergraph:
    """A composed supergraph, parsed, with lookups tests use to assert on semantics."""

    sdl: str
    document: DocumentNode

    def definition(self, name: str) -> TypeDefinitionNode:
        for node in self.document.definitions:
            if isinstance(node, TypeDefinitionNode) and node.name.value == name:
                return node
        raise AssertionError(f"type {name} is not in the supergraph")

    def has_type(self, name: str) -> bool:
        return any(
            isinstance(n, TypeDefinitionNode) and n.name.value == name
            for n in self.document.definitions
        )

    def type_directives(self, name: str) -> list[str]:
        return [print_ast(d) for d in self.definition(name).directives or ()]

    def field_names(self, name: str) -> list[str]:
        node = self.definition(name)
        assert isinstance(
            node,
            ObjectTypeDefinitionNode | InterfaceTypeDefinitionNode | InputObjectTypeDefinitionNode,
        )
        return [f.name.value for f in node.fields or ()]

    def field(self, coordinate: str):
        type_name, field_name = coordinate.split(".")
        node = self.definition(type_name)
        for field in getattr(node, "fields", None) or ():
            if field.name.value == field_name:
                return field
        raise AssertionError(f"field {coordinate} is not in the supergraph")

    def field_type(self, coordinate: str) -> str:
        return print_ast(self.field(coordinate).type)

    def field_directives(self, coordinate: str) -> list[str]:
        return [print_ast(d) for d in self.field(coordinate).directives or ()]

    def enum_values(self, name: str) -> dict[str, list[str]]:
        node = self.definition(name)
        assert isinstance(node, EnumTypeDefinitionNode)
        return {v.name.value: [print_ast(d) for d in v.directives or ()] for v in node.values}


def sources(**subgraphs: str) -> list[SubgraphSource]:
    return [
        SubgraphSource(name, f"http://{name}.internal/graphql", sdl)
        for name, sdl in subgraphs.items()
    ]


def compose_sdl(**subgraphs: str) -> tuple[Supergraph, CompositionResult]:
    result = compose(sources(**subgraphs))
    build_ast_schema(parse(result.supergraph_sdl))
    build_ast_schema(parse(result.api_schema_sdl))
    return Supergraph(result.supergraph_sdl, parse(result.supergraph_sdl)), result


def composition_errors(**subgraphs: str) -> list[str]:
    with pytest.raises(CompositionError) as raised:
        compose(sources(**subgraphs))
    return list(raised.value.errors)


@pytest.fixture
def supergraph_of() -> Callable[..., Supergraph]:
    """Compose fed2 (prefix FED2 yourself) or fed1 SDL given as keyword arguments."""
    return lambda **subgraphs: compose_sdl(**subgraphs)[0]


@pytest.fixture
def composed() -> Callable[..., tuple[Supergraph, CompositionResult]]:
    return compose_sdl


@pytest.fixture
def errors_of() -> Callable[..., list[str]]:
    return composition_errors


@pytest.fixture
def fed2() -> str:
    return FED2
