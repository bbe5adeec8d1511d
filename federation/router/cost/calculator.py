"""The cost of one operation: estimated before it runs, measured after (demand control).

The IBM GraphQL cost specification as Apollo Router applies it: a mutation costs 10, a query
or subscription 0, plus its fields. A field costs its own ``@cost`` weight and its arguments'
once per resolution (never below zero), plus, per instance it returns, its type's weight
(``@cost`` on the type, else 1 for objects, interfaces and unions, 0 for scalars and enums)
and its selections. A list returns as many instances as its largest slicing argument says
(``@listSize(slicingArguments:)``, from literals, variables or the argument's default), else
its ``assumedSize``, else the router's default list size; ``sizedFields`` pass that size to
the named fields of the returned type (a page's ``items``). A field with ``@requires`` also
pays for the selection it requires. Fragments on every possible type are summed: an upper
bound. The client's operation is costed against the supergraph rather than the subgraph
fetches of its plan, so that lists nested across subgraphs multiply as they will when run.

Everything that depends only on the document is compiled once per prepared operation: a
tree of terms whose variable-free parts are folded into numbers, so a request pays for the
variables it uses only (nothing at all for most operations). The actual cost walks the
answer with the same terms, counting the list items really returned.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
)
from graphql.pyutils import Undefined
from graphql.utilities.coerce_input_value import coerce_default_value

from federation.router.cost.directives import CostDirectives, ListSize
from federation.router.operation import Condition, variable_conditions

MUTATION_COST = 10
"""What running a mutation costs before its fields, as Apollo Router counts it."""
DEFAULT_LIST_SIZE = 10
MAX_REPORTED_COST = 2**53 - 1
"""Costs are exact integers; reported ones are capped where JSON numbers stay exact."""


@dataclass(frozen=True, slots=True)
class CostSettings:
    """The router's demand control defaults; ``list_size`` is assumed for a list field
    without ``@listSize`` (Apollo Router's ``static_estimated.list_size``)."""

    list_size: int = DEFAULT_LIST_SIZE


@dataclass(frozen=True, slots=True)
class Estimate:
    """An operation's estimated cost; ``problems`` say why it cannot be trusted (a list
    whose ``@listSize`` requires one slicing argument got none or several)."""

    cost: int
    problems: tuple[str, ...] = ()


class _Size:
    """How many instances a list field stands for, from its slicing arguments when it has
    them: literals and defaults known now, variables read per request."""

    __slots__ = ("assumed", "coordinate", "fixed", "names", "require_one", "variables")

    def __init__(
        self,
        coordinate: str,
        list_size: ListSize,
        fixed: dict[str, int],
        variables: tuple[tuple[str, str], ...],
        fallback: int,
    ) -> None:
        self.coordinate = coordinate
        self.names = list_size.slicing_arguments
        self.require_one = list_size.require_one_slicing_argument and bool(self.names)
        self.assumed = list_size.assumed_size if list_size.assumed_size is not None else fallback
        self.fixed = fixed
        self.variables = variables

    @property
    def constant(self) -> bool:
        return not self.variables

    def evaluate(self, variables: Mapping[str, Any], problems: list[str]) -> int:
        values = self.fixed
        if self.variables:
            values = dict(values)
            for argument, variable in self.variables:
                value = variables.get(variable)
                if isinstance(value, int) and not isinstance(value, bool):
                    values[argument] = value
        if self.require_one and len(values) != 1:
            problems.append(
                f"{self.coordinate} needs exactly one of its slicing arguments "
                f"({', '.join(self.names)}), but {len(values)} were given."
            )
        if values:
            return max(0, *values.values())
        return self.assumed


class _Term:
    """One field of the operation (or, with ``key`` None, a fragment under variable
    ``@skip``/``@include`` that groups its fields)."""

    __slots__ = (
        "call",
        "children",
        "conditions",
        "constant",
        "key",
        "requires",
        "size",
        "type_cost",
        "variable_arguments",
    )

    def __init__(
        self,
        key: str | None,
        *,
        call: int = 0,
        variable_arguments: tuple[_VariableArgument, ...] = (),
        size: _Size | int = 1,
        type_cost: int = 0,
        children: tuple[_Term, ...] = (),
        requires: int = 0,
        conditions: tuple[Condition, ...] = (),
    ) -> None:
        self.key = key
        self.call = call
        self.variable_arguments = variable_arguments
        self.size = size
        self.type_cost = type_cost
        self.children = children
        self.requires = requires
        self.conditions = conditions
        self.constant: int | None = None
        if (
            not conditions
            and not variable_arguments
            and isinstance(size, int)
            and all(child.constant is not None for child in children)
        ):
            self.constant = self.evaluate({}, {}, [])

    def call_cost(self, variables: Mapping[str, Any]) -> int:
        call = self.call
        for argument in self.variable_arguments:
            call += argument.score(variables)
        return max(0, call)

    def evaluate(
        self, variables: Mapping[str, Any], memo: dict[int, int], problems: list[str]
    ) -> int:
        if self.constant is not None:
            return self.constant
        known = memo.get(id(self))
        if known is not None:
            return known
        cost = 0
        if all(bool(variables.get(name)) == expected for name, expected in self.conditions):
            size = self.size
            count = size if isinstance(size, int) else size.evaluate(variables, problems)
            inner = self.type_cost
            for child in self.children:
                inner += child.evaluate(variables, memo, problems)
            cost = self.call_cost(variables) + count * inner + self.requires
        memo[id(self)] = cost
        return cost


class _ArgumentScores:
    """Arguments' costs (Apollo's rules): an input object costs its ``@cost`` or 1, plus its
    fields; a list its weight plus its items; a leaf its weight; null nothing."""

    def __init__(self, directives: CostDirectives) -> None:
        self.directives = directives

    def literal(
        self,
        value: ValueNode,
        value_type: GraphQLInputType,
        weight: int | None,
        variables: Mapping[str, Any],
    ) -> int:
        named = get_named_type(value_type)
        if isinstance(value, VariableNode):
            return self.value(variables.get(value.name.value), value_type, weight)
        if isinstance(value, NullValueNode):
            return 0
        if isinstance(value, ObjectValueNode) and isinstance(named, GraphQLInputObjectType):
            cost = 1 if weight is None else weight
            for field in value.fields:
                definition = named.fields.get(field.name.value)
                if definition is not None:
                    field_weight = self.directives.input_field_weights.get(
                        (named.name, field.name.value)
                    )
                    cost += self.literal(field.value, definition.type, field_weight, variables)
            return cost
        if isinstance(value, ListValueNode):
            item_type = _list_item(value_type)
            cost = weight or 0
            for item in value.values:
                cost += self.literal(item, item_type, weight, variables)
            return cost
        return weight or 0

    def value(self, value: Any, value_type: GraphQLInputType, weight: int | None) -> int:
        if value is None:
            return 0
        named = get_named_type(value_type)
        if isinstance(value, dict) and isinstance(named, GraphQLInputObjectType):
            cost = 1 if weight is None else weight
            for name, inner in value.items():
                definition = named.fields.get(name)
                if definition is not None:
                    field_weight = self.directives.input_field_weights.get((named.name, name))
                    cost += self.value(inner, definition.type, field_weight)
            return cost
        if isinstance(value, list):
            item_type = _list_item(value_type)
            cost = weight or 0
            for item in value:
                cost += self.value(item, item_type, weight)
            return cost
        return weight or 0

    def may_cost(self, value_type: GraphQLInputType, weight: int | None) -> bool:
        return weight is not None or isinstance(get_named_type(value_type), GraphQLInputObjectType)


def _list_item(value_type: GraphQLInputType) -> GraphQLInputType:
    unwrapped = value_type.of_type if isinstance(value_type, GraphQLNonNull) else value_type
    return unwrapped.of_type if isinstance(unwrapped, GraphQLList) else value_type  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class _VariableArgument:
    """An argument whose cost depends on the request's variables."""

    scores: _ArgumentScores
    value: ValueNode
    value_type: GraphQLInputType
    weight: int | None

    def score(self, variables: Mapping[str, Any]) -> int:
        return self.scores.literal(self.value, self.value_type, self.weight, variables)


@dataclass(frozen=True, slots=True)
class _Sized:
    """A parent list's size, for the fields its ``sizedFields`` name below it."""

    size: _Size | int
    paths: frozenset[str]

    def below(self, name: str) -> _Sized | None:
        deeper = frozenset(p.split(".", 1)[1] for p in self.paths if p.startswith(name + "."))
        return _Sized(self.size, deeper) if deeper else None


class _Merged:
    """A response key of the answer with every selection that fills it, for the actual cost.

    ``costly`` are the fields below it that can cost anything: an answer's scalars without
    weights are never visited, and a list whose items cost their type's weight only is
    counted, not walked.
    """

    __slots__ = ("call_free", "costly", "free", "key", "term")

    def __init__(self, key: str, term: _Term, children: tuple[_Merged, ...]) -> None:
        self.key = key
        self.term = term
        self.costly = tuple(child for child in children if not child.free)
        self.call_free = not term.call and not term.variable_arguments and not term.requires
        self.free = self.call_free and not term.type_cost and not self.costly


class OperationCost:
    """The compiled cost of one operation; see the module's docstring for the rules."""

    def __init__(self, base: int, terms: tuple[_Term, ...], problems: tuple[str, ...]) -> None:
        self.base = base
        self.terms = terms
        self.problems = problems
        self.constant: int | None = None
        if all(term.constant is not None for term in terms):
            self.constant = base + sum(term.constant for term in terms)  # type: ignore[misc]
        self._merged: dict[tuple[int, ...], tuple[Any, tuple[_Merged, ...]]] = {}

    def estimate(self, variables: Mapping[str, Any]) -> Estimate:
        """The cost before execution, for these (coerced) variables."""
        if self.constant is not None:
            return Estimate(self.constant, self.problems)
        problems = list(self.problems)
        memo: dict[int, int] = {}
        cost = self.base
        for term in self.terms:
            cost += term.evaluate(variables, memo, problems)
        return Estimate(cost, tuple(dict.fromkeys(problems)))

    def actual(self, data: Mapping[str, Any] | None, variables: Mapping[str, Any]) -> int:
        """The cost of what was answered: each list counted at the length it came back with,
        each null object as nothing below its field."""
        if not isinstance(data, Mapping):
            return self.base
        root = tuple(merged for merged in self._merge((self.terms,)) if not merged.free)
        return self.base + _fields(root, data, variables)

    def _merge(self, parts: tuple[tuple[_Term, ...], ...]) -> tuple[_Merged, ...]:
        """The selections' fields grouped by response key (fragments flattened), once."""
        memo_key = tuple(id(part) for part in parts)
        known = self._merged.get(memo_key)
        if known is not None:
            return known[1]
        groups: dict[str, tuple[_Term, list[tuple[_Term, ...]]]] = {}

        def add(terms: tuple[_Term, ...]) -> None:
            for term in terms:
                if term.key is None:
                    add(term.children)
                    continue
                group = groups.get(term.key)
                if group is None:
                    groups[term.key] = (term, [term.children])
                else:
                    group[1].append(term.children)

        for part in parts:
            add(part)
        merged = tuple(
            _Merged(key, term, self._merge(tuple(kids))) for key, (term, kids) in groups.items()
        )
        self._merged[memo_key] = (parts, merged)  # keeps ``parts`` alive: ids stay unique
        return merged


def _fields(
    costly: tuple[_Merged, ...], data: Mapping[str, Any], variables: Mapping[str, Any]
) -> int:
    cost = 0
    for merged in costly:
        if merged.key not in data:
            continue
        if not merged.call_free:
            cost += merged.term.call_cost(variables) + merged.term.requires
        cost += _value(merged, data[merged.key], variables)
    return cost


def _value(merged: _Merged, value: Any, variables: Mapping[str, Any]) -> int:
    if value is None:
        return 0
    if isinstance(value, list):
        if not merged.costly:
            return merged.term.type_cost * _present(value)
        return sum(_value(merged, item, variables) for item in value)
    cost = merged.term.type_cost
    if merged.costly and isinstance(value, Mapping):
        cost += _fields(merged.costly, value, variables)
    return cost


def _present(value: list[Any]) -> int:
    """Items of a (possibly nested) list that are not null."""
    count = 0
    for item in value:
        if isinstance(item, list):
            count += _present(item)
        elif item is not None:
            count += 1
    return count


def reported(cost: int) -> int:
    """A cost as it may appear in JSON."""
    return min(cost, MAX_REPORTED_COST)


def compile_cost(
    schema: GraphQLSchema,
    directives: CostDirectives,
    settings: CostSettings,
    document: DocumentNode,
    operation: OperationDefinitionNode,
) -> OperationCost:
    """Compile a validated operation of ``document`` against ``schema`` (the API schema)."""
    root = schema.get_root_type(operation.operation)
    assert root is not None  # validation refuses operations the schema has no root for
    compiler = _Compiler(schema, directives, settings, document)
    terms = compiler.selections(operation.selection_set, root, None)
    base = MUTATION_COST if operation.operation == OperationType.MUTATION else 0
    return OperationCost(base, terms, tuple(dict.fromkeys(compiler.problems)))


class _Compiler:
    def __init__(
        self,
        schema: GraphQLSchema,
        directives: CostDirectives,
        settings: CostSettings,
        document: DocumentNode,
    ) -> None:
        self.schema = schema
        self.directives = directives
        self.settings = settings
        self.scores = _ArgumentScores(directives)
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.problems: list[str] = []
        # Keyed by fragment and the sizing it is spread under; values keep the size alive.
        self._spread: dict[tuple[str, int, frozenset[str]], tuple[Any, tuple[_Term, ...]]] = {}
        self._requires: dict[tuple[str, str], int] = {}

    def selections(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType, sized: _Sized | None
    ) -> tuple[_Term, ...]:
        terms: list[_Term] = []
        for node in selection_set.selections:
            conditions = variable_conditions(node)
            if conditions is None:
                continue
            if isinstance(node, FieldNode):
                term = self.field(node, parent, sized, conditions)
                if term is not None:
                    terms.append(term)
                continue
            if isinstance(node, InlineFragmentNode):
                condition = node.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                inner = self.selections(node.selection_set, target or parent, sized)
            else:
                assert isinstance(node, FragmentSpreadNode)
                inner = self.spread(node.name.value, sized)
            if conditions:
                terms.append(_Term(None, children=inner, conditions=conditions))
            else:
                terms.extend(inner)
        return tuple(terms)

    def spread(self, name: str, sized: _Sized | None) -> tuple[_Term, ...]:
        key = (name, id(sized.size) if sized else 0, sized.paths if sized else frozenset())
        known = self._spread.get(key)
        if known is not None:
            return known[1]
        self._spread[key] = (sized, ())  # validation refuses cycles; this bounds them
        fragment = self.fragments.get(name)
        if fragment is None:
            return ()
        target = self.schema.get_type(fragment.type_condition.name.value)
        terms = self.selections(fragment.selection_set, target, sized) if target else ()
        self._spread[key] = (sized, terms)
        return terms

    def field(
        self,
        node: FieldNode,
        parent: GraphQLNamedType,
        sized: _Sized | None,
        conditions: tuple[Condition, ...],
    ) -> _Term | None:
        name = node.name.value
        if name.startswith("__") or not isinstance(
            parent, GraphQLObjectType | GraphQLInterfaceType
        ):
            return None  # __typename is data; introspection is answered by the router
        definition = parent.fields.get(name)
        if definition is None:
            return None
        coordinate = f"{parent.name}.{name}"
        output = definition.type
        unwrapped = output.of_type if isinstance(output, GraphQLNonNull) else output
        named = get_named_type(output)
        list_size = self.directives.list_sizes.get((parent.name, name))
        size: _Size | int = 1
        if isinstance(unwrapped, GraphQLList):
            if sized is not None and name in sized.paths:
                size = sized.size
            elif list_size is not None:
                size = self.size(node, definition, coordinate, list_size)
            else:
                size = self.settings.list_size
        child_sized = sized.below(name) if sized is not None else None
        if list_size is not None and list_size.sized_fields:
            own = self.size(node, definition, coordinate, list_size)
            child_sized = _Sized(own, frozenset(list_size.sized_fields))
        call = self.directives.field_weights.get((parent.name, name), 0)
        variable_arguments: list[_VariableArgument] = []
        for argument in node.arguments or ():
            argument_definition = definition.args.get(argument.name.value)
            if argument_definition is None:
                continue
            weight = self.directives.argument_weights.get((parent.name, name, argument.name.value))
            value_type = argument_definition.type
            if not self.scores.may_cost(value_type, weight):
                continue
            if _has_variables(argument.value):
                variable_arguments.append(
                    _VariableArgument(self.scores, argument.value, value_type, weight)
                )
            else:
                call += self.scores.literal(argument.value, value_type, weight, {})
        type_weight = self.directives.type_weights.get(named.name)
        if type_weight is not None:
            type_cost = max(0, type_weight)
        else:
            composite = GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType
            type_cost = 1 if isinstance(named, composite) else 0
        children = (
            self.selections(node.selection_set, named, child_sized) if node.selection_set else ()
        )
        return _Term(
            node.alias.value if node.alias else name,
            call=call,
            variable_arguments=tuple(variable_arguments),
            size=size,
            type_cost=type_cost,
            children=children,
            requires=self.requirement(parent, name),
            conditions=conditions,
        )

    def size(
        self, node: FieldNode, definition: Any, coordinate: str, list_size: ListSize
    ) -> _Size | int:
        fixed: dict[str, int] = {}
        variables: list[tuple[str, str]] = []
        for argument_name in list_size.slicing_arguments:
            argument = definition.args.get(argument_name)
            default = _default(argument) if argument is not None else None
            if isinstance(default, int) and not isinstance(default, bool):
                fixed[argument_name] = default
        for argument in node.arguments or ():
            argument_name = argument.name.value
            if argument_name not in list_size.slicing_arguments:
                continue
            if isinstance(argument.value, IntValueNode):
                fixed[argument_name] = int(argument.value.value)
            elif isinstance(argument.value, VariableNode):
                variables.append((argument_name, argument.value.name.value))
        size = _Size(coordinate, list_size, fixed, tuple(variables), self.settings.list_size)
        if size.constant:
            return size.evaluate({}, self.problems)
        return size

    def requirement(self, parent: GraphQLNamedType, name: str) -> int:
        """What the ``@requires`` selection of ``parent.name`` costs (no variables in it)."""
        key = (parent.name, name)
        known = self._requires.get(key)
        if known is not None:
            return known
        self._requires[key] = 0  # a requirement that requires itself costs nothing more
        selection = self.directives.requires.get(key)
        cost = 0
        if selection is not None:
            memo: dict[int, int] = {}
            for term in self.selections(selection, parent, None):
                cost += term.evaluate({}, memo, self.problems)
        self._requires[key] = cost
        return cost


def _default(argument: Any) -> Any:
    """An argument's default as a Python value (None when it has none or it is invalid)."""
    try:
        value = coerce_default_value(argument)
    except Exception:  # validated SDL has valid defaults; never fail a request over one
        return None
    return None if value is Undefined else value


def _has_variables(value: ValueNode) -> bool:
    if isinstance(value, VariableNode):
        return True
    if isinstance(value, ListValueNode):
        return any(_has_variables(item) for item in value.values)
    if isinstance(value, ObjectValueNode):
        return any(_has_variables(field.value) for field in value.fields)
    return False
