"""What a supergraph says about cost: ``@cost`` and ``@listSize`` (the cost spec, v0.1).

Read once per supergraph into lookup tables, so that costing an operation never touches the
SDL. The directives' names come from the supergraph's ``@link`` to
``https://specs.apollo.dev/cost/v0.1``: ``@cost`` is the spec's own directive (renamed by
``as:``), ``@listSize`` is ``@cost__listSize`` unless imported (possibly under another name).
A supergraph without that link still has its unprefixed ``@cost``/``@listSize`` read, as
routers do for schemas written by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql.language import (
    DirectiveNode,
    EnumTypeDefinitionNode,
    EnumTypeExtensionNode,
    InputObjectTypeDefinitionNode,
    InputObjectTypeExtensionNode,
    InterfaceTypeDefinitionNode,
    InterfaceTypeExtensionNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    ScalarTypeDefinitionNode,
    ScalarTypeExtensionNode,
    SchemaDefinitionNode,
    SelectionSetNode,
    UnionTypeDefinitionNode,
    UnionTypeExtensionNode,
)
from graphql.utilities import value_from_ast_untyped

from federation.router.errors import SupergraphError
from federation.router.supergraph import Supergraph

COST_SPEC = "https://specs.apollo.dev/cost/"

_OUTPUT_TYPES = (
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    InterfaceTypeDefinitionNode,
    InterfaceTypeExtensionNode,
)
_INPUT_TYPES = (InputObjectTypeDefinitionNode, InputObjectTypeExtensionNode)
_WEIGHTED_TYPES = (
    *_OUTPUT_TYPES,
    ScalarTypeDefinitionNode,
    ScalarTypeExtensionNode,
    EnumTypeDefinitionNode,
    EnumTypeExtensionNode,
    UnionTypeDefinitionNode,
    UnionTypeExtensionNode,
)


@dataclass(frozen=True, slots=True)
class ListSize:
    """``@listSize`` of one field: how long the list it returns is taken to be."""

    assumed_size: int | None = None
    slicing_arguments: tuple[str, ...] = ()
    sized_fields: tuple[str, ...] = ()
    """Fields of the returned type (dotted paths reach deeper) whose lists the slicing
    arguments size, as on a connection's ``edges`` or a page's ``items``."""
    require_one_slicing_argument: bool = True


@dataclass(frozen=True)
class CostDirectives:
    """The cost metadata of one supergraph, by schema coordinate."""

    field_weights: dict[tuple[str, str], int] = field(default_factory=dict)
    """``@cost`` on a field: paid once per resolution of the field, whatever it returns."""
    type_weights: dict[str, int] = field(default_factory=dict)
    """``@cost`` on an object, scalar or enum type: paid per instance returned."""
    argument_weights: dict[tuple[str, str, str], int] = field(default_factory=dict)
    """``@cost`` on an argument ``(type, field, argument)``."""
    input_field_weights: dict[tuple[str, str], int] = field(default_factory=dict)
    """``@cost`` on an input object's field ``(input type, field)``."""
    list_sizes: dict[tuple[str, str], ListSize] = field(default_factory=dict)
    requires: dict[tuple[str, str], SelectionSetNode] = field(default_factory=dict)
    """``@requires`` selections: fetched for the field even when the client does not ask."""

    @property
    def annotated(self) -> bool:
        return bool(
            self.field_weights
            or self.type_weights
            or self.argument_weights
            or self.input_field_weights
            or self.list_sizes
        )

    @classmethod
    def of(cls, supergraph: Supergraph) -> CostDirectives:
        """Read a supergraph; raises ``SupergraphError`` for a directive it cannot use."""
        cost_name, list_size_name = _directive_names(supergraph)
        directives = cls()
        for definition in supergraph.document.definitions:
            name_node = getattr(definition, "name", None)
            if name_node is None:
                continue
            type_name = name_node.value
            if isinstance(definition, _WEIGHTED_TYPES):
                weight = _weight(definition.directives, cost_name, type_name)
                if weight is not None:
                    directives.type_weights[type_name] = weight
            if isinstance(definition, _OUTPUT_TYPES):
                for field_node in definition.fields or ():
                    directives._read_field(type_name, field_node, cost_name, list_size_name)
            elif isinstance(definition, _INPUT_TYPES):
                for field_node in definition.fields or ():
                    coordinate = f"{type_name}.{field_node.name.value}"
                    weight = _weight(field_node.directives, cost_name, coordinate)
                    if weight is not None:
                        directives.input_field_weights[(type_name, field_node.name.value)] = weight
        for (type_name, field_name), meta in supergraph.fields.items():
            for in_graph in meta.graphs.values():
                if in_graph.requires is not None:
                    directives.requires[(type_name, field_name)] = in_graph.requires
                    break
        return directives

    def _read_field(
        self, type_name: str, field_node: Any, cost_name: str, list_size_name: str
    ) -> None:
        field_name = field_node.name.value
        coordinate = f"{type_name}.{field_name}"
        weight = _weight(field_node.directives, cost_name, coordinate)
        if weight is not None:
            self.field_weights[(type_name, field_name)] = weight
        for argument in field_node.arguments or ():
            argument_weight = _weight(
                argument.directives, cost_name, f"{coordinate}({argument.name.value}:)"
            )
            if argument_weight is not None:
                key = (type_name, field_name, argument.name.value)
                self.argument_weights[key] = argument_weight
        for directive in field_node.directives or ():
            if directive.name.value == list_size_name:
                self.list_sizes[(type_name, field_name)] = _list_size(directive, coordinate)


def _directive_names(supergraph: Supergraph) -> tuple[str, str]:
    """The names ``@cost`` and ``@listSize`` have in this supergraph."""
    for definition in supergraph.document.definitions:
        if not isinstance(definition, SchemaDefinitionNode):
            continue
        for directive in definition.directives or ():
            if directive.name.value != "link":
                continue
            arguments = _arguments(directive)
            url = arguments.get("url")
            if not isinstance(url, str) or not url.startswith(COST_SPEC):
                continue
            alias = arguments.get("as") or "cost"
            names = {"cost": str(alias), "listSize": f"{alias}__listSize"}
            for item in arguments.get("import") or ():
                if isinstance(item, str):
                    original, renamed = item, item
                elif isinstance(item, dict):
                    original = str(item.get("name", ""))
                    renamed = str(item.get("as") or original)
                else:
                    continue
                original, renamed = original.lstrip("@"), renamed.lstrip("@")
                if original in names:
                    names[original] = renamed
            return names["cost"], names["listSize"]
    return "cost", "listSize"


def _arguments(directive: DirectiveNode) -> dict[str, Any]:
    return {a.name.value: value_from_ast_untyped(a.value) for a in directive.arguments or ()}


def _weight(directives: Any, cost_name: str, coordinate: str) -> int | None:
    for directive in directives or ():
        if directive.name.value != cost_name:
            continue
        weight = _arguments(directive).get("weight")
        return _integer(weight, f"@{cost_name}(weight:) on {coordinate}")
    return None


def _integer(value: object, where: str) -> int:
    """An Int argument; early supergraphs spelled weights as strings (``"5"``)."""
    if isinstance(value, bool):
        raise SupergraphError(f"{where} must be an integer, not {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise SupergraphError(f"{where} must be an integer, not {value!r}")


def _list_size(directive: DirectiveNode, coordinate: str) -> ListSize:
    arguments = _arguments(directive)
    where = f"@{directive.name.value} on {coordinate}"
    assumed = arguments.get("assumedSize")
    slicing = arguments.get("slicingArguments") or ()
    sized = arguments.get("sizedFields") or ()
    require = arguments.get("requireOneSlicingArgument", True)
    if not isinstance(slicing, list | tuple) or not all(isinstance(s, str) for s in slicing):
        raise SupergraphError(f"{where}: slicingArguments must be a list of argument names")
    if not isinstance(sized, list | tuple) or not all(isinstance(s, str) for s in sized):
        raise SupergraphError(f"{where}: sizedFields must be a list of field names")
    return ListSize(
        assumed_size=None if assumed is None else max(0, _integer(assumed, f"{where} assumedSize")),
        slicing_arguments=tuple(slicing),
        sized_fields=tuple(sized),
        require_one_slicing_argument=require is not False,
    )
