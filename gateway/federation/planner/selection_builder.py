"""The mutable selection set of one subgraph query while the planner fills it in."""

from __future__ import annotations

from gateway.federation.operation import Conditions, Field


class FieldBuilder:
    """One field of a subgraph query and, for composite fields, its sub-selection."""

    __slots__ = ("children", "field")

    def __init__(self, field: Field, composite: bool) -> None:
        self.field = field
        self.children = SelectionBuilder() if composite else None


class SelectionBuilder:
    """Fields keyed by response key, fragments keyed by type condition or by condition."""

    __slots__ = ("conditional", "fields", "fragments")

    def __init__(self) -> None:
        self.fields: dict[str, FieldBuilder] = {}
        self.fragments: dict[str, SelectionBuilder] = {}
        self.conditional: dict[tuple[str, bool], SelectionBuilder] = {}

    def at(self, conditions: Conditions) -> SelectionBuilder:
        """The nested selection that is only evaluated when ``conditions`` hold."""
        builder = self
        for condition in conditions:
            builder = builder.conditional.setdefault(condition, SelectionBuilder())
        return builder

    def fragment(self, type_name: str) -> SelectionBuilder:
        return self.fragments.setdefault(type_name, SelectionBuilder())

    def add_field(self, field: Field, composite: bool) -> FieldBuilder:
        existing = self.fields.get(field.response_key)
        if existing is not None:
            if existing.children is None and composite:
                existing.children = SelectionBuilder()
            return existing
        builder = self.fields[field.response_key] = FieldBuilder(field, composite)
        return builder

    def add_typename(self) -> None:
        if "__typename" not in self.fields:
            self.fields["__typename"] = FieldBuilder(
                Field("__typename", "__typename", None, "", (), None, frozenset()), False
            )

    def is_empty(self) -> bool:
        return not self.fields and not any(
            not child.is_empty() for child in (*self.fragments.values(), *self.conditional.values())
        )

    def render(self) -> str:
        """The selection set's body as GraphQL text (no surrounding braces)."""
        parts: list[str] = []
        for builder in self.fields.values():
            field = builder.field
            text = (f"{field.alias}: " if field.alias else "") + field.name + field.arguments
            if builder.children is not None:
                if builder.children.is_empty():
                    builder.children.add_typename()
                text += " { " + builder.children.render() + " }"
            parts.append(text)
        for type_name, child in self.fragments.items():
            if not child.is_empty():
                parts.append(f"... on {type_name} {{ {child.render()} }}")
        for (variable, expected), child in self.conditional.items():
            if not child.is_empty():
                directive = "include" if expected else "skip"
                parts.append(f"... @{directive}(if: ${variable}) {{ {child.render()} }}")
        return " ".join(parts)
