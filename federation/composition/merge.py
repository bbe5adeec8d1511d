"""Merging subgraphs into one supergraph model, recording which graph resolves what.

Subgraphs are merged in name order so that the result never depends on the order they
were listed in. Problems are collected, not raised one by one, and raised together at the
end as one ``CompositionError``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from federation.composition.directive_merging import merge_directives
from federation.composition.errors import CompositionError
from federation.composition.merged_supergraph import (
    Graph,
    JoinField,
    JoinType,
    MergedArgument,
    MergedEnumValue,
    MergedField,
    MergedSupergraph,
    MergedType,
)
from federation.composition.subgraph import (
    ROOT_OPERATIONS,
    Field,
    Subgraph,
    TypeDefinition,
    field_set_coordinates,
)
from federation.composition.type_references import TypeReference, input_subtype, output_supertype

KIND_LABELS = {
    "OBJECT": "Object Type",
    "INTERFACE": "Interface Type",
    "UNION": "Union Type",
    "ENUM": "Enum Type",
    "INPUT_OBJECT": "Input Object Type",
    "SCALAR": "Scalar Type",
}
FEATURE_ORDER = (
    "tag",
    "inaccessible",
    "authenticated",
    "requiresScopes",
    "policy",
    "cost",
    "listSize",
)


def graph_enum_values(names: Iterable[str]) -> dict[str, str]:
    """Upper-cased, sanitized ``join__Graph`` values, made unique with a numeric suffix."""
    result: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        value = re.sub(r"[^_a-zA-Z0-9]", "_", name).upper()
        if value[:1].isdigit() or not value:
            value = "_" + value
        candidate, counter = value, 1
        while candidate in taken:
            candidate = f"{value}_{counter}"
            counter += 1
        taken.add(candidate)
        result[name] = candidate
    return result


def merge_subgraphs(subgraphs: Iterable[Subgraph]) -> MergedSupergraph:
    """Merge interpreted subgraphs; raises CompositionError listing every conflict."""
    merger = _Merger(sorted(subgraphs, key=lambda subgraph: subgraph.name))
    supergraph = merger.merge()
    if merger.errors:
        raise CompositionError(merger.errors)
    return supergraph


def _quoted(names: Iterable[str]) -> str:
    names = [f'"{name}"' for name in names]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _subgraphs_phrase(names: list[str]) -> str:
    return ("subgraph " if len(names) == 1 else "subgraphs ") + _quoted(names)


def _most_common(values: Iterable[str | None]) -> str | None:
    present = [value for value in values if value]
    if not present:
        return None
    counts = Counter(present)
    best = max(counts.values())
    return next(value for value in present if counts[value] == best)


class _Merger:
    def __init__(self, subgraphs: list[Subgraph]) -> None:
        self.subgraphs = subgraphs
        self.errors: list[str] = []
        self.graph_of = graph_enum_values(subgraph.name for subgraph in subgraphs)
        self.by_name = {subgraph.name: subgraph for subgraph in subgraphs}
        self.implements: dict[str, set[str]] = {}
        self.union_members: dict[str, set[str]] = {}
        self.provided = {subgraph.name: _provided_fields(subgraph) for subgraph in subgraphs}

    def merge(self) -> MergedSupergraph:
        type_names = list(dict.fromkeys(n for s in self.subgraphs for n in s.types))
        kinds = self._check_kinds(type_names)
        for subgraph in self.subgraphs:
            for definition in subgraph.types.values():
                self.implements.setdefault(definition.name, set()).update(definition.interfaces)
                if definition.kind == "UNION":
                    self.union_members.setdefault(definition.name, set()).update(definition.members)
        enum_usage = self._enum_usage()
        merged = []
        for name in type_names:
            if name not in kinds:
                continue
            merged_type = self._merge_type(name, kinds[name], enum_usage)
            if merged_type is not None:
                merged.append(merged_type)
        merged = self._add_interface_object_fields(merged)
        root_types = tuple(
            standard
            for _, standard in ROOT_OPERATIONS
            if any(standard in subgraph.root_types for subgraph in self.subgraphs)
        )
        query = next((t for t in merged if t.name == "Query"), None)
        if query is None or not query.fields:
            self.errors.append(
                "No queries found in any subgraph: a supergraph must have a query root type"
                " with at least one field"
            )
        merged.sort(key=lambda t: (t.name.lower(), t.name))
        return MergedSupergraph(
            graphs=tuple(Graph(self.graph_of[s.name], s.name, s.url) for s in self.subgraphs),
            types=tuple(merged),
            root_types=root_types,
            join_version=self._join_version(),
            composed_directives=self._composed_directives(),
            executable_directives=self._executable_directives(),
            directive_order=self._directive_order(),
        )

    def _directive_order(self) -> tuple[str, ...]:
        """Kept features subgraph by subgraph, in a fixed order within each: link order."""
        order: dict[str, None] = {}
        for subgraph in self.subgraphs:
            used: set[str] = set()
            for definition in subgraph.types.values():
                used.update(d.name for d in definition.directives)
                for f in definition.fields:
                    used.update(d.name for d in f.directives)
                    for argument in f.arguments:
                        used.update(d.name for d in argument.directives)
                for value in definition.values:
                    used.update(d.name for d in value.directives)
            order.update(dict.fromkeys(name for name in FEATURE_ORDER if name in used))
        return tuple(order)

    # whole-schema decisions -----------------------------------------------------------------

    def _join_version(self) -> str:
        versions = [s.federation_version for s in self.subgraphs if s.federation_version]
        highest = max(versions, default=(2, 0))
        if highest >= (2, 8):
            return "0.5"
        if highest >= (2, 7):
            return "0.4"
        return "0.3"

    def _composed_directives(self):
        found = {}
        for subgraph in self.subgraphs:
            for directive in subgraph.composed_directives:
                known = found.get(directive.name)
                if known is not None and known.url != directive.url:
                    self.errors.append(
                        f'Composed directive "@{directive.name}" is linked to different'
                        f' specifications in different subgraphs: "{known.url}" and'
                        f' "{directive.url}" (in subgraph "{subgraph.name}")'
                    )
                found.setdefault(directive.name, directive)
        return tuple(found.values())

    def _executable_directives(self):
        if not self.subgraphs:
            return ()
        result = []
        for directive in self.subgraphs[0].executable_directives:
            others = [
                next((d for d in s.executable_directives if d.name == directive.name), None)
                for s in self.subgraphs[1:]
            ]
            if any(other is None for other in others):
                continue
            locations = tuple(
                location
                for location in directive.locations
                if all(location in other.locations for other in others)  # type: ignore[union-attr]
            )
            if locations:
                from dataclasses import replace

                result.append(replace(directive, locations=locations))
        return tuple(result)

    def _check_kinds(self, type_names: list[str]) -> dict[str, str]:
        kinds: dict[str, str] = {}
        for name in type_names:
            seen: dict[str, list[str]] = {}
            for subgraph in self.subgraphs:
                definition = subgraph.type(name)
                if definition is not None:
                    seen.setdefault(definition.kind, []).append(subgraph.name)
            if len(seen) > 1:
                (first_kind, first), (second_kind, second) = list(seen.items())[:2]
                self.errors.append(
                    f'Type "{name}" has mismatched kind: it is defined as'
                    f" {KIND_LABELS[first_kind]} in {_subgraphs_phrase(first)} but"
                    f" {KIND_LABELS[second_kind]} in {_subgraphs_phrase(second)}"
                )
                continue
            kinds[name] = next(iter(seen))
        return kinds

    def _is_subtype(self, candidate: str, parent: str) -> bool:
        if candidate in self.union_members.get(parent, ()):
            return True
        pending, seen = [candidate], set()
        while pending:
            current = pending.pop()
            for interface in self.implements.get(current, ()):
                if interface == parent:
                    return True
                if interface not in seen:
                    seen.add(interface)
                    pending.append(interface)
        return False

    def _enum_usage(self) -> dict[str, dict[str, str]]:
        """For each enum, an example coordinate of its use as "input" and as "output"."""
        usage: dict[str, dict[str, str]] = {}
        for subgraph in self.subgraphs:
            for definition in subgraph.types.values():
                for field in definition.fields:
                    coordinate = f"{definition.name}.{field.name}"
                    position = "input" if definition.kind == "INPUT_OBJECT" else "output"
                    usage.setdefault(field.type.named_type, {}).setdefault(position, coordinate)
                    for argument in field.arguments:
                        usage.setdefault(argument.type.named_type, {}).setdefault(
                            "input", f"{coordinate}({argument.name}:)"
                        )
        return usage

    # types ----------------------------------------------------------------------------------

    def _sources(self, name: str) -> list[tuple[Subgraph, TypeDefinition]]:
        return [(s, s.types[name]) for s in self.subgraphs if name in s.types]

    def _merge_type(
        self, name: str, kind: str, enum_usage: dict[str, dict[str, str]]
    ) -> MergedType | None:
        sources = self._sources(name)
        join_types: list[JoinType] = []
        for subgraph, definition in sources:
            graph = self.graph_of[subgraph.name]
            if definition.keys and kind in ("OBJECT", "INTERFACE"):
                join_types.extend(
                    JoinType(
                        graph=graph,
                        key=key.fields,
                        extension=key.extension,
                        resolvable=key.resolvable,
                        is_interface_object=definition.interface_object,
                    )
                    for key in definition.keys
                )
            else:
                join_types.append(
                    JoinType(graph=graph, is_interface_object=definition.interface_object)
                )
        common = {
            "name": name,
            "kind": kind,
            "join_types": tuple(join_types),
            "description": _most_common(d.description for _, d in sources),
            "directives": merge_directives(d.directives for _, d in sources),
        }
        if kind in ("OBJECT", "INTERFACE"):
            interfaces = list(dict.fromkeys(i for _, d in sources for i in d.interfaces))
            return MergedType(
                **common,
                interfaces=tuple(interfaces),
                join_implements=tuple(
                    (self.graph_of[s.name], i) for s, d in sources for i in d.interfaces
                ),
                fields=self._merge_output_fields(name, kind, sources),
            )
        if kind == "INPUT_OBJECT":
            return MergedType(**common, fields=self._merge_input_fields(name, sources))
        if kind == "UNION":
            members = list(dict.fromkeys(m for _, d in sources for m in d.members))
            return MergedType(
                **common,
                members=tuple(members),
                join_union_members=tuple(
                    (self.graph_of[s.name], m) for s, d in sources for m in d.members
                ),
            )
        if kind == "ENUM":
            return MergedType(**common, values=self._merge_enum(name, sources, enum_usage))
        return MergedType(**common)

    # output fields --------------------------------------------------------------------------

    def _merge_output_fields(
        self, type_name: str, kind: str, sources: list[tuple[Subgraph, TypeDefinition]]
    ) -> tuple[MergedField, ...]:
        names = list(dict.fromkeys(f.name for _, d in sources for f in d.fields))
        return tuple(self._merge_output_field(type_name, kind, n, sources) for n in names)

    def _merge_output_field(
        self,
        type_name: str,
        kind: str,
        field_name: str,
        sources: list[tuple[Subgraph, TypeDefinition]],
    ) -> MergedField:
        coordinate = f"{type_name}.{field_name}"
        present = [(s, d.field(field_name)) for s, d in sources if d.field(field_name)]
        fields: list[tuple[Subgraph, Field]] = [(s, f) for s, f in present if f is not None]
        overridden, labels = self._resolve_overrides(type_name, field_name, fields)
        merged_type = self._merge_field_types(
            f'field "{coordinate}"', fields, lambda a, b: output_supertype(a, b, self._is_subtype)
        )
        all_equal = all(f.type == merged_type for _, f in fields)
        if all(f.external for _, f in fields):
            self.errors.append(
                f'Field "{coordinate}" is marked @external on all the subgraphs in which it is'
                f" listed ({_subgraphs_phrase([s.name for s, _ in fields])})"
            )
        if kind == "OBJECT" and not any(d.interface_object for _, d in sources):
            self._check_shareable(type_name, field_name, fields, overridden)
        needs_join = (
            not all_equal
            or bool(labels)
            or any(state == "used" for state in overridden.values())
            or len(fields) < len(sources)
            or any(
                subgraph.name in overridden or f.external or f.requires or f.provides
                for subgraph, f in fields
            )
        )
        join_fields: list[JoinField] = []
        if needs_join:
            for subgraph, f in fields:
                state = overridden.get(subgraph.name)
                label = labels.get(subgraph.name)
                if state == "unused" and label is None:
                    continue
                join_fields.append(
                    JoinField(
                        graph=self.graph_of[subgraph.name],
                        requires=f.requires,
                        provides=f.provides,
                        type=None if all_equal else str(f.type),
                        external=f.external,
                        override=f.override_from,
                        used_overridden=state == "used",
                        override_label=label,
                    )
                )
        return MergedField(
            name=field_name,
            type=merged_type,
            arguments=self._merge_arguments(coordinate, fields),
            join_fields=tuple(join_fields),
            directives=merge_directives(f.directives for _, f in fields),
            description=_most_common(f.description for _, f in fields),
        )

    def _resolve_overrides(
        self, type_name: str, field_name: str, fields: list[tuple[Subgraph, Field]]
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Which subgraphs' copies are overridden ("used" or "unused") and the labels in play."""
        coordinate = f"{type_name}.{field_name}"
        overridden: dict[str, str] = {}
        labels: dict[str, str] = {}
        for subgraph, f in fields:
            source_name = f.override_from
            if source_name is None:
                continue
            if source_name == subgraph.name:
                self.errors.append(
                    f'[{subgraph.name}] Source and destination subgraphs "{source_name}" are the'
                    f' same for overridden field "{coordinate}"'
                )
                continue
            source = self.by_name.get(source_name)
            if source is None:
                self.errors.append(
                    f'[{subgraph.name}] Field "{coordinate}" overrides subgraph'
                    f' "{source_name}", which is not one of the composed subgraphs'
                    f" ({_quoted(self.by_name)})"
                )
                continue
            if f.external:
                self.errors.append(
                    f'[{subgraph.name}] Field "{coordinate}" cannot be both @external and @override'
                )
                continue
            source_type = source.type(type_name)
            source_field = source_type.field(field_name) if source_type else None
            if source_field is None:
                continue
            if source_field.override_from is not None:
                self.errors.append(
                    f'Field "{coordinate}" on subgraph "{source_name}" is also marked with'
                    f' @override in subgraph "{subgraph.name}": only one @override is allowed'
                    " per field"
                )
                continue
            if source_field.external:
                continue
            used = (type_name, field_name) in source.used_fields
            overridden[source_name] = "used" if used else "unused"
            if f.override_label:
                labels[subgraph.name] = f.override_label
                labels[source_name] = f.override_label
        return overridden, labels

    def _check_shareable(
        self,
        type_name: str,
        field_name: str,
        fields: list[tuple[Subgraph, Field]],
        overridden: dict[str, str],
    ) -> None:
        resolving = [
            (subgraph, f)
            for subgraph, f in fields
            if subgraph.name not in overridden
            and (not f.external or (type_name, field_name) in self.provided[subgraph.name])
        ]
        if len(resolving) < 2:
            return
        non_shareable = [s.name for s, f in resolving if not (f.shareable or f.external)]
        if not non_shareable:
            return
        where = (
            "in all of them"
            if len(non_shareable) == len(resolving)
            else f"in {_subgraphs_phrase(non_shareable)}"
        )
        self.errors.append(
            f'Non-shareable field "{type_name}.{field_name}" is resolved from multiple'
            f" subgraphs: it is resolved from {_subgraphs_phrase([s.name for s, _ in resolving])}"
            f" and defined as non-shareable {where}"
        )

    def _merge_field_types(self, what: str, fields, combine) -> TypeReference:
        merged: TypeReference = fields[0][1].type
        for subgraph, f in fields[1:]:
            combined = combine(merged, f.type)
            if combined is None:
                first_subgraph, first = fields[0]
                mismatch = next(
                    ((s, other) for s, other in fields if other.type != first.type), (subgraph, f)
                )
                self.errors.append(
                    f"Type of {what} is incompatible across subgraphs: it has type"
                    f' "{first.type}" in subgraph "{first_subgraph.name}" but type'
                    f' "{mismatch[1].type}" in subgraph "{mismatch[0].name}"'
                )
                return merged
            merged = combined
        return merged

    def _merge_arguments(
        self, coordinate: str, fields: list[tuple[Subgraph, Field]]
    ) -> tuple[MergedArgument, ...]:
        names = list(dict.fromkeys(a.name for _, f in fields for a in f.arguments))
        merged = []
        for name in names:
            with_argument = [(s, f.argument(name)) for s, f in fields if f.argument(name)]
            without = [s.name for s, f in fields if f.argument(name) is None]
            where = f'"{coordinate}({name}:)"'
            if without:
                required = [
                    s.name
                    for s, a in with_argument
                    if a.type.wrapper == "non_null" and a.default is None  # type: ignore[union-attr]
                ]
                if required:
                    self.errors.append(
                        f"Argument {where} is required in some subgraphs but does not appear in"
                        f" all subgraphs: it is required in {_subgraphs_phrase(required)} but"
                        f" does not appear in {_subgraphs_phrase(without)}"
                    )
                continue
            argument_type = self._merge_field_types(
                f"argument {where}", with_argument, input_subtype
            )
            defaults = {a.default for _, a in with_argument if a.default is not None}  # type: ignore[union-attr]
            if len(defaults) > 1:
                self.errors.append(
                    f"Argument {where} has incompatible default values across subgraphs: "
                    + ", ".join(
                        f'{a.default} in subgraph "{s.name}"'  # type: ignore[union-attr]
                        for s, a in with_argument
                        if a.default is not None  # type: ignore[union-attr]
                    )
                )
            merged.append(
                MergedArgument(
                    name=name,
                    type=argument_type,
                    default=next(iter(defaults), None),
                    directives=merge_directives(a.directives for _, a in with_argument),  # type: ignore[union-attr]
                    description=_most_common(a.description for _, a in with_argument),  # type: ignore[union-attr]
                )
            )
        return tuple(merged)

    # input objects and enums ----------------------------------------------------------------

    def _merge_input_fields(
        self, type_name: str, sources: list[tuple[Subgraph, TypeDefinition]]
    ) -> tuple[MergedField, ...]:
        names = list(dict.fromkeys(f.name for _, d in sources for f in d.fields))
        merged = []
        for name in names:
            coordinate = f"{type_name}.{name}"
            fields = [(s, d.field(name)) for s, d in sources if d.field(name)]
            without = [s.name for s, d in sources if d.field(name) is None]
            if without:
                required = [
                    s.name
                    for s, f in fields
                    if f.type.wrapper == "non_null" and f.default is None  # type: ignore[union-attr]
                ]
                if required:
                    self.errors.append(
                        f'Input object field "{coordinate}" is required in some subgraphs but'
                        f" does not appear in all subgraphs: it is required in"
                        f" {_subgraphs_phrase(required)} but does not appear in"
                        f" {_subgraphs_phrase(without)}"
                    )
                continue
            field_type = self._merge_field_types(
                f'input field "{coordinate}"', fields, input_subtype
            )
            all_equal = all(f.type == field_type for _, f in fields)  # type: ignore[union-attr]
            defaults = [f.default for _, f in fields if f.default is not None]  # type: ignore[union-attr]
            merged.append(
                MergedField(
                    name=name,
                    type=field_type,
                    join_fields=()
                    if all_equal
                    else tuple(
                        JoinField(graph=self.graph_of[s.name], type=str(f.type))  # type: ignore[union-attr]
                        for s, f in fields
                    ),
                    directives=merge_directives(f.directives for _, f in fields),  # type: ignore[union-attr]
                    description=_most_common(f.description for _, f in fields),  # type: ignore[union-attr]
                    default=defaults[0] if defaults else None,
                )
            )
        return tuple(merged)

    def _merge_enum(
        self,
        name: str,
        sources: list[tuple[Subgraph, TypeDefinition]],
        enum_usage: dict[str, dict[str, str]],
    ) -> tuple[MergedEnumValue, ...]:
        usage = enum_usage.get(name, {})
        value_names = list(dict.fromkeys(v.name for _, d in sources for v in d.values))
        defined_in = {
            value: [s.name for s, d in sources if any(v.name == value for v in d.values)]
            for value in value_names
        }
        all_subgraphs = [s.name for s, _ in sources]
        if "input" in usage and "output" in usage:
            for value, where in defined_in.items():
                if len(where) < len(all_subgraphs):
                    missing = [n for n in all_subgraphs if n not in where]
                    self.errors.append(
                        f'Enum type "{name}" is used as both input type (for example, as type'
                        f' of "{usage["input"]}") and output type (for example, as type of'
                        f' "{usage["output"]}"), but value "{value}" is not defined in all the'
                        f' subgraphs defining "{name}": "{value}" is defined in'
                        f" {_subgraphs_phrase(where)} but not in {_subgraphs_phrase(missing)}"
                    )
        elif "input" in usage:
            kept = [v for v in value_names if len(defined_in[v]) == len(all_subgraphs)]
            if not kept:
                self.errors.append(
                    f'None of the values of enum type "{name}" are defined consistently in all'
                    f" the subgraphs defining that type ({_quoted(all_subgraphs)}); it is used as"
                    f' an input type (for example, as type of "{usage["input"]}"), so only values'
                    " defined in every subgraph are kept"
                )
            value_names = kept
        merged = []
        for value in value_names:
            definitions = [v for _, d in sources for v in d.values if v.name == value]
            merged.append(
                MergedEnumValue(
                    name=value,
                    graphs=tuple(self.graph_of[n] for n in defined_in[value]),
                    directives=merge_directives(v.directives for v in definitions),
                    description=_most_common(v.description for v in definitions),
                )
            )
        return tuple(merged)

    # entity interfaces ------------------------------------------------------------------------

    def _add_interface_object_fields(self, merged: list[MergedType]) -> list[MergedType]:
        """Give implementations the fields an @interfaceObject adds to their interface."""
        interface_object_fields: dict[str, set[str]] = {}
        for subgraph in self.subgraphs:
            for definition in subgraph.types.values():
                if not definition.interface_object:
                    continue
                interface_object_fields.setdefault(definition.name, set()).update(
                    f.name for f in definition.fields
                )
                if not any(
                    (other := s.type(definition.name)) is not None
                    and not other.interface_object
                    and other.keys
                    for s in self.subgraphs
                ):
                    self.errors.append(
                        f'[{subgraph.name}] Type "{definition.name}" is declared with'
                        " @interfaceObject but no subgraph defines an interface"
                        f' "{definition.name}" with a @key'
                    )
        if not interface_object_fields:
            return merged
        by_name = {t.name: t for t in merged}
        result = []
        from dataclasses import replace

        for merged_type in merged:
            if merged_type.kind != "OBJECT":
                result.append(merged_type)
                continue
            added = list(merged_type.fields)
            for interface_name in merged_type.interfaces:
                interface = by_name.get(interface_name)
                provided = interface_object_fields.get(interface_name, set())
                if interface is None:
                    continue
                for interface_field in interface.fields:
                    if (
                        interface_field.name in provided
                        and merged_type.field(interface_field.name) is None
                        and all(f.name != interface_field.name for f in added)
                    ):
                        added.append(
                            replace(
                                interface_field, join_fields=(JoinField(graph=None),), directives=()
                            )
                        )
            result.append(replace(merged_type, fields=tuple(added)))
        return result


def _provided_fields(subgraph: Subgraph) -> set[tuple[str, str]]:
    provided: set[tuple[str, str]] = set()
    for definition in subgraph.types.values():
        for f in definition.fields:
            if f.provides:
                provided |= field_set_coordinates(subgraph.types, f.type.named_type, f.provides)
    return provided
