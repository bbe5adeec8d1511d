"""GraphQL type references (``[Int!]!``) and the rules for merging them across subgraphs.

Output positions may widen (the merged type must accept every subgraph's value), input
positions may narrow (the merged type must be accepted by every subgraph).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from graphql.language import ListTypeNode, NamedTypeNode, NonNullTypeNode, TypeNode


@dataclass(frozen=True)
class TypeReference:
    """A named type, or a list or non-null wrapper around another reference."""

    wrapper: str  # "named", "list" or "non_null"
    name: str = ""
    inner: TypeReference | None = None

    def __str__(self) -> str:
        if self.wrapper == "named":
            return self.name
        if self.wrapper == "list":
            return f"[{self.inner}]"
        return f"{self.inner}!"

    @property
    def named_type(self) -> str:
        """The innermost type name, stripped of list and non-null wrappers."""
        return self.name if self.inner is None else self.inner.named_type


def named(name: str) -> TypeReference:
    return TypeReference("named", name=name)


def type_reference_from_ast(node: TypeNode) -> TypeReference:
    """Convert a parsed type node."""
    if isinstance(node, NonNullTypeNode):
        return TypeReference("non_null", inner=type_reference_from_ast(node.type))
    if isinstance(node, ListTypeNode):
        return TypeReference("list", inner=type_reference_from_ast(node.type))
    assert isinstance(node, NamedTypeNode)
    return named(node.name.value)


def output_supertype(
    first: TypeReference, second: TypeReference, is_subtype: Callable[[str, str], bool]
) -> TypeReference | None:
    """The most specific type both values fit in, or None when they cannot merge.

    ``is_subtype(a, b)`` tells whether named type ``a`` is a member or implementation of ``b``.
    """
    if first == second:
        return first
    if first.wrapper == "non_null" and second.wrapper == "non_null":
        inner = output_supertype(first.inner, second.inner, is_subtype)  # type: ignore[arg-type]
        return None if inner is None else TypeReference("non_null", inner=inner)
    if first.wrapper == "non_null":
        return output_supertype(first.inner, second, is_subtype)  # type: ignore[arg-type]
    if second.wrapper == "non_null":
        return output_supertype(first, second.inner, is_subtype)  # type: ignore[arg-type]
    if first.wrapper == "list" and second.wrapper == "list":
        inner = output_supertype(first.inner, second.inner, is_subtype)  # type: ignore[arg-type]
        return None if inner is None else TypeReference("list", inner=inner)
    if first.wrapper == "named" and second.wrapper == "named":
        if is_subtype(first.name, second.name):
            return second
        if is_subtype(second.name, first.name):
            return first
    return None


def input_subtype(first: TypeReference, second: TypeReference) -> TypeReference | None:
    """The most restrictive type both subgraphs accept, or None when they cannot merge."""
    if first == second:
        return first
    if first.wrapper == "non_null" and second.wrapper == "non_null":
        inner = input_subtype(first.inner, second.inner)  # type: ignore[arg-type]
        return None if inner is None else TypeReference("non_null", inner=inner)
    if first.wrapper == "non_null":
        inner = input_subtype(first.inner, second)  # type: ignore[arg-type]
        return None if inner is None else TypeReference("non_null", inner=inner)
    if second.wrapper == "non_null":
        inner = input_subtype(first, second.inner)  # type: ignore[arg-type]
        return None if inner is None else TypeReference("non_null", inner=inner)
    if first.wrapper == "list" and second.wrapper == "list":
        inner = input_subtype(first.inner, second.inner)  # type: ignore[arg-type]
        return None if inner is None else TypeReference("list", inner=inner)
    return None
