"""The mutable selection set of one subgraph query while the planner fills it in."""

from __future__ import annotations

from federation.router.operation import Conditions, Field


class FieldBuilder:
    """One field of a subgraph query and, for composite fields, its sub-selection."""

    __slots__ = ("children", "field", "output_type")

    def __init__(self, field: Field, composite: bool, output_type: str | None = None) -> None:
        self.field = field
        self.children = SelectionBuilder() if composite else None
        self.output_type = output_type


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

    def add_field(
        self, field: Field, composite: bool, output_type: str | None = None
    ) -> FieldBuilder:
        existing = self.fields.get(field.response_key)
        if existing is not None:
            if existing.children is None and composite:
                existing.children = SelectionBuilder()
            return existing
        builder = self.fields[field.response_key] = FieldBuilder(field, composite, output_type)
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

    def variables(self) -> set[str]:
        """The variables the rendered selection uses, read from the selections themselves."""
        used: set[str] = set()
        for builder in self.fields.values():
            used |= builder.field.variables
            if builder.children is not None:
                used |= builder.children.variables()
        for child in self.fragments.values():
            used |= child.variables()
        for (variable, _), child in self.conditional.items():
            if not child.is_empty():
                used.add(variable)
                used |= child.variables()
        return used

    def render(self, aliased: list[bool] | None = None) -> str:
        """The selection set's body as GraphQL text (no surrounding braces).

        Fields of sibling type fragments that share a response key but not a type get a
        ``key__fa_<type>`` alias (recorded in ``aliased``) so the document stays valid.
        """
        return self._render(aliased if aliased is not None else [], {})

    def _render(self, aliased: list[bool], renamed: dict[str, str]) -> str:
        parts: list[str] = []
        for key, builder in self.fields.items():
            field = builder.field
            alias = field.alias
            keep = renamed.get(key)
            if keep is not None and builder.output_type != keep:
                alias = f"{key}__fa_{_type_tag(builder.output_type)}"
                aliased.append(True)
            text = (f"{alias}: " if alias else "") + field.name + field.arguments
            if builder.children is not None:
                if builder.children.is_empty():
                    builder.children.add_typename()
                text += " { " + builder.children._render(aliased, {}) + " }"
            parts.append(text)
        conflicts: dict[str, str] = {}
        if len(self.fragments) > 1:
            types: dict[str, set[str]] = {}
            for child in self.fragments.values():
                for key, builder in child.fields.items():
                    types.setdefault(key, set()).add(builder.output_type or "")
            conflicts = {key: min(found) for key, found in types.items() if len(found) > 1}
        for type_name, child in self.fragments.items():
            if not child.is_empty():
                parts.append(f"... on {type_name} {{ {child._render(aliased, conflicts)} }}")
        for (variable, expected), child in self.conditional.items():
            if not child.is_empty():
                directive = "include" if expected else "skip"
                parts.append(
                    f"... @{directive}(if: ${variable}) {{ {child._render(aliased, renamed)} }}"
                )
        return " ".join(parts)


def _type_tag(output_type: str | None) -> str:
    return (output_type or "").replace("!", "nn").replace("[", "L").replace("]", "")
