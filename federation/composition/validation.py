"""Checks of each subgraph's own federation directives, before anything is merged.

Every message starts with the subgraph's name and names the type, field and directive
argument at fault, so the owning team can act on it without reading the other subgraphs.
"""

from __future__ import annotations

from federation.composition.field_sets import FieldSelection, parse_field_set
from federation.composition.subgraph import Subgraph, TypeDefinition

LEAF_KINDS = frozenset({"SCALAR", "ENUM"})
BUILT_IN_SCALARS = frozenset({"String", "Int", "Float", "Boolean", "ID"})


def validate_subgraph(subgraph: Subgraph) -> list[str]:
    """Every problem with @key, @requires, @provides and @external in one subgraph."""
    errors: list[str] = []
    for definition in subgraph.types.values():
        for key in definition.keys:
            where = f'On type "{definition.name}", for @key(fields: "{key.fields}")'
            _check_field_set(subgraph, definition, key.fields, where, None, errors)
        for field in definition.fields:
            coordinate = f"{definition.name}.{field.name}"
            if field.requires is not None:
                where = f'On field "{coordinate}", for @requires(fields: "{field.requires}")'
                _check_field_set(subgraph, definition, field.requires, where, "@requires", errors)
            if field.provides is not None:
                target = subgraph.type(field.type.named_type)
                if target is None or not target.is_composite:
                    errors.append(
                        f'[{subgraph.name}] Invalid @provides directive on field "{coordinate}":'
                        f' field has type "{field.type}" which is not a composite type'
                    )
                else:
                    where = f'On field "{coordinate}", for @provides(fields: "{field.provides}")'
                    _check_field_set(subgraph, target, field.provides, where, "@provides", errors)
            if (
                field.external
                and not subgraph.is_federation_1
                and (definition.name, field.name) not in subgraph.used_fields
                and not _satisfies_interface(subgraph, definition, field.name)
            ):
                errors.append(
                    f'[{subgraph.name}] Field "{coordinate}" is marked @external but is not used'
                    " in any federation directive (@key, @provides, @requires) or to satisfy an"
                    " interface; the field declaration has no use and should be removed (or the"
                    " field should not be @external)"
                )
    return errors


def _satisfies_interface(subgraph: Subgraph, definition: TypeDefinition, field_name: str) -> bool:
    return any(
        (interface := subgraph.type(name)) is not None and interface.field(field_name) is not None
        for name in definition.interfaces
    )


def _check_field_set(
    subgraph: Subgraph,
    definition: TypeDefinition,
    text: str,
    where: str,
    needs_external: str | None,
    errors: list[str],
) -> None:
    try:
        selections = parse_field_set(text)
    except ValueError as error:
        errors.append(f"[{subgraph.name}] {where}: invalid field set: {error}")
        return
    _check_selections(subgraph, definition, selections, where, needs_external, errors)


def _check_selections(
    subgraph: Subgraph,
    definition: TypeDefinition,
    selections: tuple[FieldSelection, ...],
    where: str,
    needs_external: str | None,
    errors: list[str],
) -> None:
    for selection in selections:
        owner = definition
        if selection.type_condition and selection.type_condition != definition.name:
            found = subgraph.type(selection.type_condition)
            if found is None:
                errors.append(
                    f"[{subgraph.name}] {where}: unknown type condition"
                    f' "{selection.type_condition}"'
                )
                continue
            owner = found
        field = owner.field(selection.name)
        if field is None:
            errors.append(
                f'[{subgraph.name}] {where}: Cannot query field "{selection.name}" on type'
                f' "{owner.name}" (the field should either be added to this subgraph or, if it'
                " should not be resolved by this subgraph, you need to add it to this subgraph"
                " with @external)"
            )
            continue
        if selection.has_arguments or field.arguments:
            errors.append(
                f'[{subgraph.name}] {where}: field "{owner.name}.{field.name}" cannot be included'
                " because it has arguments (fields with arguments are not allowed in a field set)"
            )
        if needs_external and not subgraph.is_federation_1 and not field.external:
            errors.append(
                f'[{subgraph.name}] {where}: field "{owner.name}.{field.name}" should not be part'
                f" of a {needs_external} since it is already provided by this subgraph (it is"
                " not marked @external)"
            )
        target_name = field.type.named_type
        target = subgraph.type(target_name)
        is_leaf = target_name in BUILT_IN_SCALARS or (
            target is not None and target.kind in LEAF_KINDS
        )
        if selection.selections and is_leaf:
            errors.append(
                f'[{subgraph.name}] {where}: field "{owner.name}.{field.name}" of type'
                f' "{field.type}" is a leaf and cannot have a selection'
            )
        elif not selection.selections and not is_leaf:
            errors.append(
                f'[{subgraph.name}] {where}: field "{owner.name}.{field.name}" of type'
                f' "{field.type}" needs a selection of sub-fields'
            )
        elif selection.selections and target is not None:
            _check_selections(subgraph, target, selection.selections, where, None, errors)
