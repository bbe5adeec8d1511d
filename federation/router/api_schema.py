"""The API schema: what clients introspect and what operations are validated against.

It is the supergraph minus the federation machinery (``join__*``, ``link__*``, the linked
specs' directives) and minus every ``@inaccessible`` element.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graphql import GraphQLSchema, build_ast_schema
from graphql.language import (
    REMOVE,
    DirectiveDefinitionNode,
    DirectiveNode,
    DocumentNode,
    NamedTypeNode,
    SchemaDefinitionNode,
    Visitor,
    visit,
)

if TYPE_CHECKING:
    from federation.router.supergraph import Supergraph

_SPEC_DIRECTIVES = {
    "inaccessible",
    "tag",
    "authenticated",
    "requiresScopes",
    "policy",
    "cost",
    "listSize",
    "context",
    "fromContext",
    "link",
    "core",
}


def build_api_schema(supergraph: Supergraph) -> GraphQLSchema:
    """Build the client-facing schema from a supergraph."""
    return build_ast_schema(api_document(supergraph), assume_valid_sdl=True)


def api_document(supergraph: Supergraph) -> DocumentNode:
    """The supergraph document with federation machinery and inaccessible elements removed."""
    prefixes = (*tuple(link.prefix for link in supergraph.links), "join__", "link__")
    spec_directives = set(_SPEC_DIRECTIVES)
    for link in supergraph.links:
        spec_directives.add(link.prefix[:-2])
        spec_directives.update(link.imports)
    inaccessible_names = {"inaccessible"} | {
        link.prefix[:-2] for link in supergraph.links if link.name == "inaccessible"
    }
    removed_types = set()
    for definition in supergraph.document.definitions:
        name = getattr(getattr(definition, "name", None), "value", None)
        if name is None or isinstance(definition, DirectiveDefinitionNode):
            continue
        if name.startswith(prefixes) or _has(definition, inaccessible_names):
            removed_types.add(name)

    class Strip(Visitor):
        def enter_directive_definition(self, node: DirectiveDefinitionNode, *_: Any) -> Any:
            name = node.name.value
            if name in spec_directives or name.startswith(prefixes):
                return REMOVE
            return None

        def enter_directive(self, node: DirectiveNode, *_: Any) -> Any:
            name = node.name.value
            if name in spec_directives or name.startswith(prefixes):
                return REMOVE
            return None

        def enter(self, node: Any, *_: Any) -> Any:
            if isinstance(node, SchemaDefinitionNode):
                return None
            directives = getattr(node, "directives", None)
            if directives and _has(node, inaccessible_names):
                return REMOVE
            name = getattr(getattr(node, "name", None), "value", None)
            if (
                name in removed_types
                and hasattr(node, "kind")
                and node.kind.endswith("definition")
                and not node.kind.startswith(("field", "input_value", "enum_value"))
            ):
                return REMOVE
            field_type = getattr(node, "type", None)
            if field_type is not None and _named(field_type) in removed_types:
                return REMOVE
            return None

        def enter_named_type(self, node: NamedTypeNode, *_: Any) -> Any:
            if node.name.value in removed_types:
                return REMOVE
            return None

    return visit(supergraph.document, Strip())


def _has(node: Any, names: set[str]) -> bool:
    return any(d.name.value in names for d in getattr(node, "directives", None) or ())


def _named(type_node: Any) -> str:
    while hasattr(type_node, "type"):
        type_node = type_node.type
    return type_node.name.value
