"""The API schema's SDL as composition writes it, and the checks @inaccessible needs.

What clients see once join metadata and @inaccessible elements are gone; the router builds
the same schema from a loaded supergraph in ``federation.router.api_schema``.

Removing an element must not leave a dangling reference, so the checks here report an
accessible field that returns an @inaccessible type, a type left with no accessible field,
and a required argument or input field hidden from clients.
"""

from __future__ import annotations

from graphql import build_ast_schema, parse, print_schema

from federation.composition.merged_supergraph import MergedField, MergedSupergraph, MergedType
from federation.composition.printing import KEYWORDS, print_string
from federation.composition.subgraph import AppliedDirective

CLIENT_VISIBLE_DIRECTIVES = frozenset({"deprecated", "specifiedBy"})


def _hidden(directives: tuple[AppliedDirective, ...]) -> bool:
    return any(d.name == "inaccessible" for d in directives)


def check_inaccessible(supergraph: MergedSupergraph) -> list[str]:
    """References from the API schema to elements @inaccessible removes."""
    hidden_types = {t.name for t in supergraph.types if _hidden(t.directives)}
    errors: list[str] = []
    for merged_type in supergraph.types:
        if merged_type.name in hidden_types:
            if merged_type.name in supergraph.root_types and merged_type.name == "Query":
                errors.append('Type "Query" is the query root type and cannot be @inaccessible')
            continue
        visible = [f for f in merged_type.fields if not _hidden(f.directives)]
        if merged_type.fields and not visible:
            errors.append(
                f'Type "{merged_type.name}" is in the API schema but all of its fields are'
                " @inaccessible"
            )
        if (
            merged_type.kind == "ENUM"
            and merged_type.values
            and not any(not _hidden(v.directives) for v in merged_type.values)
        ):
            errors.append(
                f'Enum "{merged_type.name}" is in the API schema but all of its values are'
                " @inaccessible"
            )
        for field in visible:
            coordinate = f"{merged_type.name}.{field.name}"
            if field.type.named_type in hidden_types:
                errors.append(
                    f'Type "{field.type.named_type}" is @inaccessible but is referenced by'
                    f' "{coordinate}", which is in the API schema'
                )
            for argument in field.arguments:
                where = f'"{coordinate}({argument.name}:)"'
                if _hidden(argument.directives):
                    if argument.type.wrapper == "non_null" and argument.default is None:
                        errors.append(
                            f"Argument {where} is required but is @inaccessible, so clients"
                            " could never call the field"
                        )
                elif argument.type.named_type in hidden_types:
                    errors.append(
                        f'Type "{argument.type.named_type}" is @inaccessible but is referenced'
                        f" by {where}, which is in the API schema"
                    )
        if merged_type.kind == "INPUT_OBJECT":
            for field in merged_type.fields:
                if (
                    _hidden(field.directives)
                    and field.type.wrapper == "non_null"
                    and field.default is None
                ):
                    errors.append(
                        f'Input field "{merged_type.name}.{field.name}" is required but is'
                        " @inaccessible"
                    )
    return errors


def api_schema_sdl(supergraph: MergedSupergraph) -> str:
    """Print the client-facing schema of a supergraph ``check_inaccessible`` found sound."""
    hidden_types = {t.name for t in supergraph.types if _hidden(t.directives)}
    blocks = [str(executable) for executable in supergraph.executable_directives]
    for merged_type in supergraph.types:
        if merged_type.name in hidden_types:
            continue
        printed = _print_type(merged_type, hidden_types)
        if printed is not None:
            blocks.append(printed)
    schema = build_ast_schema(parse("\n\n".join(blocks)))
    return print_schema(schema)


def _visible_directives(directives: tuple[AppliedDirective, ...]) -> str:
    return "".join(f" {d}" for d in directives if d.name in CLIENT_VISIBLE_DIRECTIVES)


def _description(text: str | None) -> str:
    return print_string(text) + " " if text else ""


def _print_type(merged_type: MergedType, hidden_types: set[str]) -> str | None:
    keyword = KEYWORDS[merged_type.kind]
    head = _description(merged_type.description) + f"{keyword} {merged_type.name}"
    interfaces = [i for i in merged_type.interfaces if i not in hidden_types]
    if interfaces:
        head += " implements " + " & ".join(interfaces)
    head += _visible_directives(merged_type.directives)
    if merged_type.kind == "SCALAR":
        return head
    if merged_type.kind == "UNION":
        members = [m for m in merged_type.members if m not in hidden_types]
        return head + " = " + " | ".join(members) if members else None
    if merged_type.kind == "ENUM":
        values = [
            _description(v.description) + v.name + _visible_directives(v.directives)
            for v in merged_type.values
            if not _hidden(v.directives)
        ]
        return head + " {\n  " + "\n  ".join(values) + "\n}" if values else None
    fields = [_print_field(f) for f in merged_type.fields if not _hidden(f.directives)]
    return head + " {\n  " + "\n  ".join(fields) + "\n}" if fields else None


def _print_field(field: MergedField) -> str:
    text = _description(field.description) + field.name
    arguments = [a for a in field.arguments if not _hidden(a.directives)]
    if arguments:
        text += (
            "("
            + ", ".join(
                _description(a.description)
                + f"{a.name}: {a.type}"
                + (f" = {a.default}" if a.default is not None else "")
                + _visible_directives(a.directives)
                for a in arguments
            )
            + ")"
        )
    text += f": {field.type}"
    if field.default is not None:
        text += f" = {field.default}"
    return text + _visible_directives(field.directives)
