"""Printing a ``MergedSupergraph`` as SDL in the layout Apollo's composition writes.

Types and directive definitions are sorted by name, each type's directives go one per
line, and only the join arguments that differ from their defaults are written, so output
can be diffed against supergraphs produced elsewhere.
"""

from __future__ import annotations

from graphql.language.block_string import print_block_string

from federation.composition.merged_supergraph import (
    JoinField,
    JoinType,
    MergedArgument,
    MergedField,
    MergedSupergraph,
    MergedType,
)
from federation.composition.specifications import (
    COST_DIRECTIVE,
    COST_URL,
    FEATURES,
    JOIN_CONTEXT_ARGUMENT,
    JOIN_DIRECTIVE_DIRECTIVE,
    JOIN_DIRECTIVES_V0_3,
    JOIN_FIELD_ARGUMENTS,
    LINK_DIRECTIVE,
    LINK_PURPOSE_ENUM,
    LINK_URL,
    LIST_SIZE_ARGUMENTS,
)
from federation.composition.subgraph import ROOT_OPERATIONS, AppliedDirective

KEYWORDS = {
    "OBJECT": "type",
    "INTERFACE": "interface",
    "UNION": "union",
    "ENUM": "enum",
    "INPUT_OBJECT": "input",
    "SCALAR": "scalar",
}


def print_supergraph(supergraph: MergedSupergraph) -> str:
    """The supergraph SDL, ending without a trailing newline like Apollo's output."""
    used = _used_directive_names(supergraph)
    links = [
        f'@link(url: "{LINK_URL}")',
        f'@link(url: "https://specs.apollo.dev/join/v{supergraph.join_version}", for: EXECUTION)',
    ]
    directive_definitions: dict[str, str] = {
        **JOIN_DIRECTIVES_V0_3,
        "join__field": f"directive @join__field({JOIN_FIELD_ARGUMENTS[supergraph.join_version]})"
        " repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION",
        "link": LINK_DIRECTIVE,
    }
    extra_types: dict[str, str] = {
        "join__FieldSet": "scalar join__FieldSet",
        "link__Import": "scalar link__Import",
        "link__Purpose": LINK_PURPOSE_ENUM,
        "join__Graph": _print_graph_enum(supergraph),
    }
    if supergraph.join_version in ("0.4", "0.5"):
        directive_definitions["join__directive"] = JOIN_DIRECTIVE_DIRECTIVE
        extra_types["join__DirectiveArguments"] = "scalar join__DirectiveArguments"
    if supergraph.join_version == "0.5":
        extra_types["join__ContextArgument"] = JOIN_CONTEXT_ARGUMENT
        extra_types["join__FieldValue"] = "scalar join__FieldValue"
    for feature in sorted(FEATURES, key=_first_use(supergraph)):
        link_arguments, directives, types = FEATURES[feature]
        if feature in used:
            links.append(f"@link({link_arguments})")
            directive_definitions.update(directives)
            extra_types.update(types)
    if "cost" in used or "listSize" in used:
        list_size_name = "listSize" if "listSize" in used else "cost__listSize"
        imports = ', import: ["@listSize"]' if "listSize" in used else ""
        links.append(f'@link(url: "{COST_URL}"{imports})')
        directive_definitions["cost"] = COST_DIRECTIVE
        directive_definitions[list_size_name] = f"directive @{list_size_name}{LIST_SIZE_ARGUMENTS}"
    for composed in supergraph.composed_directives:
        links.append(f'@link(url: "{composed.url}", import: ["@{composed.name}"])')
        directive_definitions[composed.name] = composed.definition
    for executable in supergraph.executable_directives:
        directive_definitions[executable.name] = str(executable)
    roots = "\n".join(
        f"  {operation}: {name}"
        for operation, name in ROOT_OPERATIONS
        if name in supergraph.root_types
    )
    blocks = ["schema\n" + "".join(f"  {link}\n" for link in links) + "{\n" + roots + "\n}"]
    blocks.extend(directive_definitions[name] for name in sorted(directive_definitions, key=_order))
    printed_types = {t.name: _print_type(t) for t in supergraph.types}
    printed_types.update(extra_types)
    blocks.extend(printed_types[name] for name in sorted(printed_types, key=_order))
    return "\n\n".join(blocks)


def _first_use(supergraph: MergedSupergraph):
    order = supergraph.directive_order
    return lambda name: order.index(name) if name in order else len(order)


def _order(name: str) -> tuple[str, str]:
    return (name.lower(), name)


def _used_directive_names(supergraph: MergedSupergraph) -> set[str]:
    used: set[str] = set()

    def add(directives: tuple[AppliedDirective, ...]) -> None:
        used.update(d.name for d in directives)

    for merged_type in supergraph.types:
        add(merged_type.directives)
        for field in merged_type.fields:
            add(field.directives)
            for argument in field.arguments:
                add(argument.directives)
        for value in merged_type.values:
            add(value.directives)
    return used


def _print_graph_enum(supergraph: MergedSupergraph) -> str:
    values = "".join(
        f'  {g.enum_value} @join__graph(name: "{g.name}", url: "{g.url}")\n'
        for g in supergraph.graphs
    )
    return "enum join__Graph {\n" + values + "}"


def _description(text: str | None, indent: str) -> str:
    if not text:
        return ""
    block = print_block_string(text, minimize=False)
    return "".join(f"{indent}{line}\n" if line else "\n" for line in block.split("\n"))


def _print_join_type(join: JoinType) -> str:
    parts = [f"graph: {join.graph}"]
    if join.key is not None:
        parts.append(f"key: {print_string(join.key)}")
    if join.extension:
        parts.append("extension: true")
    if not join.resolvable:
        parts.append("resolvable: false")
    if join.is_interface_object:
        parts.append("isInterfaceObject: true")
    return f"@join__type({', '.join(parts)})"


def _print_join_field(join: JoinField) -> str:
    parts = []
    if join.graph is not None:
        parts.append(f"graph: {join.graph}")
    if join.requires is not None:
        parts.append(f"requires: {print_string(join.requires)}")
    if join.provides is not None:
        parts.append(f"provides: {print_string(join.provides)}")
    if join.type is not None:
        parts.append(f"type: {print_string(join.type)}")
    if join.external:
        parts.append("external: true")
    if join.override is not None:
        parts.append(f"override: {print_string(join.override)}")
    if join.used_overridden:
        parts.append("usedOverridden: true")
    if join.override_label is not None:
        parts.append(f"overrideLabel: {print_string(join.override_label)}")
    return f"@join__field({', '.join(parts)})" if parts else "@join__field"


def print_string(value: str) -> str:
    """A GraphQL string literal on one line."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _print_type(merged_type: MergedType) -> str:
    keyword = KEYWORDS[merged_type.kind]
    head = f"{keyword} {merged_type.name}"
    if merged_type.interfaces:
        head += " implements " + " & ".join(merged_type.interfaces)
    directives = [
        f"@join__implements(graph: {g}, interface: {print_string(i)})"
        for g, i in merged_type.join_implements
    ]
    directives.extend(_print_join_type(join) for join in merged_type.join_types)
    directives.extend(
        f"@join__unionMember(graph: {g}, member: {print_string(m)})"
        for g, m in merged_type.join_union_members
    )
    directives.extend(str(d) for d in merged_type.directives)
    text = _description(merged_type.description, "") + head
    text += "".join(f"\n  {directive}" for directive in directives)
    if merged_type.kind == "UNION":
        if merged_type.members:
            text += ("\n" if directives else "") + " = " + " | ".join(merged_type.members)
        return text
    if merged_type.kind == "SCALAR":
        return text
    if merged_type.kind == "ENUM":
        body = [
            _description(value.description, "  ")
            + "  "
            + " ".join(
                [value.name]
                + [f"@join__enumValue(graph: {g})" for g in value.graphs]
                + [str(d) for d in value.directives]
            )
            for value in merged_type.values
        ]
    else:
        body = [_print_field(field) for field in merged_type.fields]
    body = [
        "\n" + line if index and line.lstrip().startswith('"""') else line
        for index, line in enumerate(body)
    ]
    opener = "\n{" if directives else " {"
    return text + opener + "\n" + "\n".join(body) + "\n}"


def _print_field(field: MergedField) -> str:
    text = _description(field.description, "  ") + "  " + field.name
    if field.arguments:
        if any(argument.description for argument in field.arguments):
            text += (
                "(\n"
                + "\n".join(
                    _description(a.description, "    ") + "    " + _print_argument(a)
                    for a in field.arguments
                )
                + "\n  )"
            )
        else:
            text += "(" + ", ".join(_print_argument(a) for a in field.arguments) + ")"
    text += f": {field.type}"
    if field.default is not None:
        text += f" = {field.default}"
    directives = [str(d) for d in field.directives if d.name == "inaccessible"]
    directives.extend(_print_join_field(join) for join in field.join_fields)
    directives.extend(str(d) for d in field.directives if d.name != "inaccessible")
    if directives:
        text += " " + " ".join(directives)
    return text


def _print_argument(argument: MergedArgument) -> str:
    text = f"{argument.name}: {argument.type}"
    if argument.default is not None:
        text += f" = {argument.default}"
    for directive in argument.directives:
        text += f" {directive}"
    return text
