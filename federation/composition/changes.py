"""What changed between two API schemas, and whether clients written for the old one break.

graphql-core's ``find_schema_changes`` decides what is breaking, dangerous or safe (a
removed field or type, a changed type, a new required argument, a removed enum value, an
argument made required, an output made nullable, a removed argument, union member or
interface); its answers are sentences. Here each becomes a ``SchemaChange`` with the schema
coordinate it concerns (``Order.status``, ``Query.orders(first:)``, ``OrderStatus.OPEN``),
a short message, and an ``id`` stable enough to accept a change by: the kind, the
coordinate and, for memberships, the member. Deprecations added or removed, which
graphql-core does not report, are listed as safe changes too, so a reviewer sees them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
)
from graphql.utilities import (
    BreakingChangeType,
    DangerousChangeType,
    SafeChangeType,
    find_schema_changes,
)


class Severity(Enum):
    """How a change affects clients written against the old schema."""

    BREAKING = "breaking"
    """Some valid operation of the old schema fails, or reads something else, on the new one."""
    DANGEROUS = "dangerous"
    """Operations stay valid, but a client may meet a value it does not expect."""
    SAFE = "safe"


@dataclass(frozen=True, slots=True, order=True)
class SchemaChange:
    """One change, printed ``BREAKING  Order.status: type changed from OrderStatus! to String!``."""

    severity: Severity
    coordinate: str
    kind: str
    message: str
    member: str = ""
    """The union member, interface or directive location concerned, when there is one."""

    @property
    def id(self) -> str:
        """What an accepted change is recorded by: kind, coordinate and member."""
        return ":".join(part for part in (self.kind, self.coordinate, self.member) if part)

    def line(self) -> str:
        return f"{self.severity.name:<10} {self.coordinate}: {self.message}"


_NAME = r"[_A-Za-z][_0-9A-Za-z]*"
_FIELD = rf"(?P<type>{_NAME})\.(?P<field>{_NAME})"
_ARG = rf"(?:@(?P<directive>{_NAME})|{_FIELD})\((?P<arg>{_NAME}):\)"
_TYPES = r"from (?P<old>\S+) to (?P<new>\S+?)\.?$"

# (regular expression over graphql-core's description, message template) per change kind.
_PATTERNS: dict[Enum, tuple[str, str]] = {
    BreakingChangeType.TYPE_REMOVED: (
        rf"^(?P<standard>Standard scalar )?(?P<type>{_NAME}) was removed",
        "type removed",
    ),
    BreakingChangeType.TYPE_CHANGED_KIND: (
        rf"^(?P<type>{_NAME}) changed from (?P<old>.+) to (?P<new>.+)\.$",
        "changed from {old} to {new}",
    ),
    BreakingChangeType.TYPE_REMOVED_FROM_UNION: (
        rf"^(?P<member>{_NAME}) was removed from union type (?P<type>{_NAME})",
        "member {member} removed from the union",
    ),
    BreakingChangeType.VALUE_REMOVED_FROM_ENUM: (
        rf"^Enum value {_FIELD} was removed",
        "enum value removed",
    ),
    BreakingChangeType.REQUIRED_INPUT_FIELD_ADDED: (
        rf"^A required field {_FIELD} was added",
        "required input field added",
    ),
    BreakingChangeType.IMPLEMENTED_INTERFACE_REMOVED: (
        rf"^(?P<type>{_NAME}) no longer implements interface (?P<member>{_NAME})",
        "no longer implements {member}",
    ),
    BreakingChangeType.FIELD_REMOVED: (rf"^Field {_FIELD} was removed", "field removed"),
    BreakingChangeType.FIELD_CHANGED_KIND: (rf"^Field {_FIELD} changed type {_TYPES}", ""),
    BreakingChangeType.REQUIRED_ARG_ADDED: (
        rf"^A required argument {_ARG} was added",
        "required argument added",
    ),
    BreakingChangeType.ARG_REMOVED: (rf"^Argument {_ARG} was removed", "argument removed"),
    BreakingChangeType.ARG_CHANGED_KIND: (rf"^Argument {_ARG} has changed type {_TYPES}", ""),
    BreakingChangeType.DIRECTIVE_REMOVED: (
        rf"^Directive @(?P<directive>{_NAME}) was removed",
        "directive removed",
    ),
    BreakingChangeType.DIRECTIVE_ARG_REMOVED: (
        rf"^Argument {_ARG} was removed",
        "directive argument removed",
    ),
    BreakingChangeType.REQUIRED_DIRECTIVE_ARG_ADDED: (
        rf"^A required argument {_ARG} was added",
        "required directive argument added",
    ),
    BreakingChangeType.DIRECTIVE_REPEATABLE_REMOVED: (
        rf"^Repeatable flag was removed from @(?P<directive>{_NAME})",
        "no longer repeatable",
    ),
    BreakingChangeType.DIRECTIVE_LOCATION_REMOVED: (
        rf"^(?P<member>{_NAME}) was removed from @(?P<directive>{_NAME})",
        "location {member} removed",
    ),
    DangerousChangeType.VALUE_ADDED_TO_ENUM: (
        rf"^Enum value {_FIELD} was added",
        "enum value added (clients that switch over the enum must handle it)",
    ),
    DangerousChangeType.TYPE_ADDED_TO_UNION: (
        rf"^(?P<member>{_NAME}) was added to union type (?P<type>{_NAME})",
        "member {member} added to the union (clients must handle it)",
    ),
    DangerousChangeType.OPTIONAL_INPUT_FIELD_ADDED: (
        rf"^An optional field {_FIELD} was added",
        "optional input field added",
    ),
    DangerousChangeType.OPTIONAL_ARG_ADDED: (
        rf"^An optional argument {_ARG} was added",
        "optional argument added",
    ),
    DangerousChangeType.IMPLEMENTED_INTERFACE_ADDED: (
        rf"^(?P<member>{_NAME}) added to interfaces implemented by (?P<type>{_NAME})",
        "now implements {member}",
    ),
    DangerousChangeType.ARG_DEFAULT_VALUE_CHANGE: (
        rf"^(?:@(?P<directive>{_NAME})|{_FIELD})\((?P<arg>{_NAME}):\) "
        r"(?:has changed defaultValue from (?P<old>.+) to (?P<new>.+)\.|defaultValue was removed)",
        "",
    ),
    DangerousChangeType.INPUT_FIELD_DEFAULT_VALUE_CHANGE: (
        rf"^{_FIELD} (?:has changed defaultValue from (?P<old>.+) to (?P<new>.+)\."
        r"|defaultValue was removed)",
        "",
    ),
    SafeChangeType.TYPE_ADDED: (rf"^(?P<type>{_NAME}) was added", "type added"),
    SafeChangeType.OPTIONAL_INPUT_FIELD_ADDED: (
        rf"^An optional field {_FIELD} was added",
        "optional input field added",
    ),
    SafeChangeType.OPTIONAL_ARG_ADDED: (
        rf"^An optional argument {_ARG} was added",
        "optional argument added",
    ),
    SafeChangeType.DIRECTIVE_ADDED: (
        rf"^Directive @(?P<directive>{_NAME}) was added",
        "directive added",
    ),
    SafeChangeType.FIELD_ADDED: (rf"^Field {_FIELD} was added", "field added"),
    SafeChangeType.DIRECTIVE_REPEATABLE_ADDED: (
        rf"^Repeatable flag was added to @(?P<directive>{_NAME})",
        "now repeatable",
    ),
    SafeChangeType.DIRECTIVE_LOCATION_ADDED: (
        rf"^(?P<member>{_NAME}) was added to @(?P<directive>{_NAME})",
        "location {member} added",
    ),
    SafeChangeType.OPTIONAL_DIRECTIVE_ARG_ADDED: (
        rf"^An optional argument {_ARG} was added",
        "optional directive argument added",
    ),
    SafeChangeType.FIELD_CHANGED_KIND_SAFE: (rf"^Field {_FIELD} changed type {_TYPES}", ""),
    SafeChangeType.ARG_CHANGED_KIND_SAFE: (rf"^Argument {_ARG} has changed type {_TYPES}", ""),
    SafeChangeType.ARG_DEFAULT_VALUE_ADDED: (
        rf"^(?:@(?P<directive>{_NAME})|{_FIELD})\((?P<arg>{_NAME}):\) added a defaultValue "
        r"(?P<new>.+)\.$",
        "default value {new} added",
    ),
    SafeChangeType.INPUT_FIELD_DEFAULT_VALUE_ADDED: (
        rf"^{_FIELD} added a defaultValue (?P<new>.+)\.$",
        "default value {new} added",
    ),
    SafeChangeType.DESCRIPTION_CHANGED: (
        rf"^Description of (?:(?:field |input-field |enum value |argument ){_FIELD}"
        rf"(?:\((?P<arg>{_NAME})\))?|@(?P<directive>{_NAME})(?:\({_NAME}\))?"
        rf"|(?P<named>{_NAME})) has changed",
        "description changed",
    ),
}


def _coordinate(groups: dict[str, str | None]) -> str:
    if groups.get("directive"):
        base = f"@{groups['directive']}"
    elif groups.get("field"):
        base = f"{groups['type']}.{groups['field']}"
    else:
        base = groups.get("type") or groups.get("named") or ""
    if groups.get("arg"):
        base += f"({groups['arg']}:)"
    return base


def _classified(kind: Enum, description: str) -> SchemaChange:
    severity = (
        Severity.BREAKING
        if isinstance(kind, BreakingChangeType)
        else Severity.DANGEROUS
        if isinstance(kind, DangerousChangeType)
        else Severity.SAFE
    )
    pattern, template = _PATTERNS.get(kind, ("", ""))
    match = re.match(pattern, description) if pattern else None
    if match is None:
        # A description this module does not know (a newer graphql-core): shown as it is.
        return SchemaChange(severity, "", kind.name, description.rstrip("."))
    groups = match.groupdict()
    if not template:
        if groups.get("old") is not None:
            template = "type changed from {old} to {new}"
            if "defaultValue" in description:
                template = "default value changed from {old} to {new}"
        else:
            template = "default value removed"
    message = template.format(**{k: v or "" for k, v in groups.items()})
    if groups.get("standard"):
        message = "standard scalar removed (no field or argument uses it any more)"
    return SchemaChange(
        severity, _coordinate(groups), kind.name, message, groups.get("member") or ""
    )


_NULLABILITY = re.compile(r"^type changed from (?P<old>\S+) to (?P<new>\S+)$")


def _with_nullability(change: SchemaChange, old: GraphQLSchema) -> SchemaChange:
    """A type change that only moves a ``!`` says so: an input or argument made required, or
    an output made nullable, are the breaking changes reviewers most often overlook."""
    match = _NULLABILITY.match(change.message)
    if match is None or match["old"].replace("!", "") != match["new"].replace("!", ""):
        return change
    owner = old.type_map.get(change.coordinate.split(".")[0])
    is_input = "(" in change.coordinate or isinstance(owner, GraphQLInputObjectType)
    tightened = match["new"].count("!") > match["old"].count("!")
    note = "nullability tightened" if tightened else "nullability loosened"
    if change.severity is Severity.BREAKING:
        note += ": callers must now send a value" if is_input else ": clients may now get null"
    return SchemaChange(
        change.severity, change.coordinate, change.kind, f"{change.message} ({note})", change.member
    )


def _deprecations(schema: GraphQLSchema) -> dict[str, str]:
    """Every deprecated coordinate of a schema with its reason."""
    return {coordinate: reason for coordinate, reason in deprecated_elements(schema)}


def deprecated_elements(schema: GraphQLSchema) -> Iterator[tuple[str, str]]:
    """(coordinate, reason) of every deprecated field, argument, input field and enum value."""
    for name, named in schema.type_map.items():
        if name.startswith("__"):
            continue
        if isinstance(named, GraphQLEnumType):
            for value_name, value in named.values.items():
                if value.deprecation_reason is not None:
                    yield f"{name}.{value_name}", value.deprecation_reason
        elif isinstance(named, GraphQLInputObjectType):
            for field_name, input_field in named.fields.items():
                if input_field.deprecation_reason is not None:
                    yield f"{name}.{field_name}", input_field.deprecation_reason
        elif isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in named.fields.items():
                if field.deprecation_reason is not None:
                    yield f"{name}.{field_name}", field.deprecation_reason
                for arg_name, argument in field.args.items():
                    if argument.deprecation_reason is not None:
                        yield f"{name}.{field_name}({arg_name}:)", argument.deprecation_reason


def _deprecation_changes(old: GraphQLSchema, new: GraphQLSchema) -> list[SchemaChange]:
    before, after = _deprecations(old), _deprecations(new)
    changes = []
    existing = set(_still_there(set(after), old))
    for coordinate, reason in after.items():
        if coordinate not in existing:
            continue  # a new element: its addition is the change
        if coordinate not in before:
            message = f"deprecated: {reason}"
        elif before[coordinate] != reason:
            message = f"deprecation reason changed to: {reason}"
        else:
            continue
        changes.append(SchemaChange(Severity.SAFE, coordinate, "DEPRECATION_ADDED", message))
    removed = _still_there(set(before) - set(after), new)
    for coordinate in removed:
        changes.append(
            SchemaChange(Severity.SAFE, coordinate, "DEPRECATION_REMOVED", "no longer deprecated")
        )
    return changes


def _still_there(coordinates: set[str], schema: GraphQLSchema) -> list[str]:
    """The coordinates that still exist in ``schema`` (a removed one is a removal, not an
    undeprecation)."""
    present = set()
    for name, named in schema.type_map.items():
        if isinstance(named, GraphQLEnumType):
            present.update(f"{name}.{value}" for value in named.values)
        elif isinstance(named, GraphQLInputObjectType):
            present.update(f"{name}.{field}" for field in named.fields)
        elif isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in named.fields.items():
                present.add(f"{name}.{field_name}")
                present.update(f"{name}.{field_name}({arg}:)" for arg in field.args)
    return sorted(coordinates & present)


def schema_changes(old: GraphQLSchema, new: GraphQLSchema) -> list[SchemaChange]:
    """Every change from ``old`` to ``new``: breaking first, then dangerous, then safe, each
    in coordinate order."""
    found = [
        _with_nullability(_classified(change.type, change.description), old)
        for change in find_schema_changes(old, new)
    ]
    found += _deprecation_changes(old, new)
    order = {severity: position for position, severity in enumerate(Severity)}
    return sorted(set(found), key=lambda c: (order[c.severity], c.coordinate, c.kind, c.member))


def schema_changes_between(old_sdl: str, new_sdl: str) -> list[SchemaChange]:
    """``schema_changes`` of two API schemas given as SDL; raises graphql's errors on bad SDL."""
    return schema_changes(build_schema(old_sdl), build_schema(new_sdl))
