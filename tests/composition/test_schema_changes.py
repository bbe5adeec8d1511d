"""Schema change classification over generated schemas: every removal, type change and
tightened input is breaking with its coordinate; additions and tightened outputs are not."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from federation.composition.changes import SchemaChange, Severity, schema_changes_between

NAMES = st.from_regex(r"[a-z][a-zA-Z0-9]{0,6}", fullmatch=True)
SCALARS = ("Int", "String", "Boolean", "ID", "Float")


@dataclass(frozen=True)
class Argument:
    type: str
    required: bool


@dataclass(frozen=True)
class Field:
    type: str
    non_null: bool
    arguments: dict[str, Argument] = field(default_factory=dict)

    def printed(self, name: str) -> str:
        arguments = ", ".join(
            f"{arg}: {a.type}{'!' if a.required else ''}" for arg, a in self.arguments.items()
        )
        signature = f"{name}({arguments})" if arguments else name
        return f"{signature}: {self.type}{'!' if self.non_null else ''}"


@dataclass(frozen=True)
class Schema:
    objects: dict[str, dict[str, Field]]
    enums: dict[str, tuple[str, ...]]

    def sdl(self) -> str:
        query = "\n".join(f"  {name.lower()}: {name}" for name in self.objects)
        blocks = [f"type Query {{\n{query}\n}}"]
        for name, fields in self.objects.items():
            body = "\n".join(f"  {field.printed(f)}" for f, field in fields.items())
            blocks.append(f"type {name} {{\n{body}\n}}")
        for name, values in self.enums.items():
            blocks.append(f"enum {name} {{ {' '.join(values)} }}")
        return "\n\n".join(blocks)


@st.composite
def schemas(draw: st.DrawFn) -> Schema:
    enum_names = draw(st.lists(st.sampled_from(["Status", "Kind", "Mode"]), unique=True))
    enums = {
        name: tuple(
            draw(st.lists(st.from_regex(r"[A-Z]{2,5}", fullmatch=True), min_size=2, unique=True))
        )
        for name in enum_names
    }
    object_names = draw(
        st.lists(st.from_regex(r"T[a-z]{1,5}", fullmatch=True), min_size=1, max_size=5, unique=True)
    )
    leaf_types = st.sampled_from((*SCALARS, *enum_names))
    objects = {}
    for name in object_names:
        names = draw(st.lists(NAMES, min_size=1, max_size=6, unique=True))
        objects[name] = {
            f: Field(
                draw(leaf_types),
                draw(st.booleans()),
                {
                    a: Argument(draw(st.sampled_from(SCALARS)), draw(st.booleans()))
                    for a in draw(st.lists(NAMES, max_size=3, unique=True))
                },
            )
            for f in names
        }
    return Schema(objects, enums)


def changes(old: Schema, new: Schema) -> list[SchemaChange]:
    return schema_changes_between(old.sdl(), new.sdl())


def breaking(found: list[SchemaChange]) -> list[str]:
    """The breaking changes' ids, but for standard scalars no longer used by anything."""
    return [
        f"{c.kind}:{c.coordinate}"
        for c in found
        if c.severity is Severity.BREAKING and not c.message.startswith("standard scalar")
    ]


def with_field(schema: Schema, type_name: str, name: str, value: Field | None) -> Schema:
    fields = dict(schema.objects[type_name])
    if value is None:
        del fields[name]
    else:
        fields[name] = value
    return replace(schema, objects={**schema.objects, type_name: fields})


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(schemas())
def test_an_unchanged_schema_has_no_changes(schema: Schema) -> None:
    assert changes(schema, schema) == []


@FAST
@given(schemas(), st.data())
def test_removing_any_field_is_breaking_at_its_coordinate(schema: Schema, data: st.DataObject):
    type_name = data.draw(st.sampled_from(sorted(schema.objects)))
    fields = schema.objects[type_name]
    if len(fields) < 2:
        return  # a type without fields is no schema
    name = data.draw(st.sampled_from(sorted(fields)))
    found = changes(schema, with_field(schema, type_name, name, None))
    assert breaking(found) == [f"FIELD_REMOVED:{type_name}.{name}"]
    assert f"BREAKING   {type_name}.{name}: field removed" in [c.line() for c in found]


@FAST
@given(schemas(), st.data())
def test_removing_any_enum_value_is_breaking(schema: Schema, data: st.DataObject) -> None:
    if not schema.enums:
        return
    enum = data.draw(st.sampled_from(sorted(schema.enums)))
    value = data.draw(st.sampled_from(schema.enums[enum]))
    kept = tuple(v for v in schema.enums[enum] if v != value)
    found = changes(schema, replace(schema, enums={**schema.enums, enum: kept}))
    assert breaking(found) == [f"VALUE_REMOVED_FROM_ENUM:{enum}.{value}"]


@FAST
@given(schemas(), st.data())
def test_any_argument_made_required_or_added_required_is_breaking(
    schema: Schema, data: st.DataObject
) -> None:
    type_name = data.draw(st.sampled_from(sorted(schema.objects)))
    name = data.draw(st.sampled_from(sorted(schema.objects[type_name])))
    old_field = schema.objects[type_name][name]
    optional = [a for a, argument in old_field.arguments.items() if not argument.required]
    arguments = dict(old_field.arguments)
    if optional:
        argument = data.draw(st.sampled_from(optional))
        arguments[argument] = replace(arguments[argument], required=True)
        expected = f"ARG_CHANGED_KIND:{type_name}.{name}({argument}:)"
    else:
        argument = "addedRequired"
        arguments[argument] = Argument("Int", required=True)
        expected = f"REQUIRED_ARG_ADDED:{type_name}.{name}({argument}:)"
    new_field = replace(old_field, arguments=arguments)
    found = changes(schema, with_field(schema, type_name, name, new_field))
    assert breaking(found) == [expected]


@FAST
@given(schemas(), st.data())
def test_output_nullability_breaks_when_loosened_only(schema: Schema, data: st.DataObject):
    type_name = data.draw(st.sampled_from(sorted(schema.objects)))
    name = data.draw(st.sampled_from(sorted(schema.objects[type_name])))
    old_field = schema.objects[type_name][name]
    new_field = replace(old_field, non_null=not old_field.non_null)
    found = changes(schema, with_field(schema, type_name, name, new_field))
    if old_field.non_null:
        assert breaking(found) == [f"FIELD_CHANGED_KIND:{type_name}.{name}"]
        assert "clients may now get null" in found[0].message
    else:
        assert breaking(found) == []
        assert [c.kind for c in found] == ["FIELD_CHANGED_KIND_SAFE"]


@FAST
@given(schemas(), st.data())
def test_changing_any_field_type_is_breaking(schema: Schema, data: st.DataObject) -> None:
    type_name = data.draw(st.sampled_from(sorted(schema.objects)))
    name = data.draw(st.sampled_from(sorted(schema.objects[type_name])))
    old_field = schema.objects[type_name][name]
    other = data.draw(st.sampled_from([s for s in SCALARS if s != old_field.type]))
    found = changes(schema, with_field(schema, type_name, name, replace(old_field, type=other)))
    assert f"FIELD_CHANGED_KIND:{type_name}.{name}" in breaking(found)


@FAST
@given(schemas(), st.data())
def test_adding_fields_and_optional_arguments_breaks_nothing(
    schema: Schema, data: st.DataObject
) -> None:
    type_name = data.draw(st.sampled_from(sorted(schema.objects)))
    name = data.draw(st.sampled_from(sorted(schema.objects[type_name])))
    old_field = schema.objects[type_name][name]
    arguments = {**old_field.arguments, "addedOptional": Argument("Int", required=False)}
    new = with_field(schema, type_name, name, replace(old_field, arguments=arguments))
    new = with_field(new, type_name, "addedField", Field("String", non_null=True))
    found = changes(schema, new)
    assert breaking(found) == []
    assert all(change.coordinate for change in found)
    assert {c.coordinate for c in found} >= {
        f"{type_name}.addedField",
        f"{type_name}.{name}(addedOptional:)",
    }
