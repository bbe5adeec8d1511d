"""Operation limits: what a document may cost before it is validated, planned or executed.

Parsing, validation and planning run on the event loop, so one document must not be able to
hold it: a few hundred bytes of fragments that each spread the previous one twice expand to
millions of fields, and a flood of aliases of one field fans out into as many backend calls.
The limits are checked in the order of their cost: the document's length before the parser
reads it, its tokens while it is parsed, then its shape (depth, aliases, root fields and
fields after fragment expansion), measured without expanding anything, before validation.
Validation's own quadratic step (checking that fields sharing a response name can merge) is
given a budget. Every rejection names the limit and its value.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    parse,
    specified_rules,
)
from graphql.validation import OverlappingFieldsCanBeMergedRule, ValidationContext
from graphql.validation.validate import ValidationAbortedError

from federation.router.errors import OperationError

LIMIT_EXCEEDED = "OPERATION_LIMIT_EXCEEDED"
"""The ``extensions.code`` of every rejection by a limit."""


@dataclass(frozen=True)
class OperationLimits:
    """Bounds on one document; ``None`` lifts a bound.

    The defaults admit any hand-written or generated client operation we know of (GraphiQL's
    introspection query included) and keep the worst document under them to a few tens of
    milliseconds of parsing, validation and planning.
    """

    max_document_length: int | None = 32_768
    """Characters of the document: the parser reads long strings and comments slowly."""
    max_tokens: int | None = 1_000
    """Lexical tokens, comments included (graphql-core's ``max_tokens``)."""
    max_depth: int | None = 20
    """Nesting of fields, fragments expanded."""
    max_aliases: int | None = 30
    """Aliased fields, fragments expanded: each alias of a field is another resolution."""
    max_root_fields: int | None = 20
    """Fields at the operation's root, fragments expanded: each may be a backend call."""
    max_fields: int | None = 1_000
    """Fields after fragment expansion: the size of what is planned and answered."""
    max_field_merge_cost: int | None = 2_000
    """Budget of validation's field-merging check (comparisons of same-named fields)."""

    @classmethod
    def unlimited(cls) -> OperationLimits:
        return cls(**{limit.name: None for limit in fields(cls)})


DEFAULT_LIMITS = OperationLimits()


@dataclass(frozen=True)
class OperationShape:
    """What an operation selects once every fragment is expanded (computed without expanding)."""

    depth: int = 0
    aliases: int = 0
    root_fields: int = 0
    fields: int = 0


def limit_error(name: str, message: str) -> OperationError:
    return OperationError(
        [{"message": message, "extensions": {"code": LIMIT_EXCEEDED, "limit": name}}],
        kind="limits",
    )


def parse_within_limits(document: str, limits: OperationLimits) -> DocumentNode:
    """Parse ``document``, refusing it as soon as it is longer or has more tokens than allowed."""
    if limits.max_document_length is not None and len(document) > limits.max_document_length:
        raise limit_error(
            "max_document_length",
            f"The document has {len(document)} characters, over the limit of "
            f"{limits.max_document_length} (limits.max_document_length).",
        )
    try:
        return parse(document, max_tokens=limits.max_tokens)
    except GraphQLError as error:
        if limits.max_tokens is not None and error.message.endswith(
            f"Document contains more than {limits.max_tokens} tokens. Parsing aborted."
        ):
            raise limit_error(
                "max_tokens",
                f"The document has more than {limits.max_tokens} tokens, the limit "
                "(limits.max_tokens).",
            ) from None
        raise OperationError([error.formatted], kind="parse") from None


_SHAPE_LIMITS = (
    ("max_depth", "depth", "depth"),
    ("max_aliases", "aliases", "aliases"),
    ("max_root_fields", "root_fields", "root fields"),
    ("max_fields", "fields", "fields after fragment expansion"),
)


def check_shape(document: DocumentNode, limits: OperationLimits) -> None:
    """Refuse the document when any of its operations is deeper, wider or larger than allowed.

    Every operation is checked, not only the one requested: validation reads them all.
    """
    errors: list[dict[str, Any]] = []
    for operation, shape in measure_operations(document):
        label = f"operation {operation.name.value}" if operation.name else "operation"
        for limit_name, attribute, noun in _SHAPE_LIMITS:
            limit = getattr(limits, limit_name)
            value = getattr(shape, attribute)
            if limit is not None and value > limit:
                message = (
                    f"The {label} has {noun} {value}, over the limit of {limit} "
                    f"(limits.{limit_name})."
                    if attribute == "depth"
                    else f"The {label} has {value} {noun}, over the limit of {limit} "
                    f"(limits.{limit_name})."
                )
                errors.extend(limit_error(limit_name, message).errors)
    if errors:
        raise OperationError(errors, kind="limits")


# -- measuring without expanding ---------------------------------------------------------


@dataclass(frozen=True)
class _Local:
    """One definition's own selections, with its fragment spreads left as references."""

    shape: OperationShape
    #: ``(fragment name, number of fields enclosing the spread)``
    spreads: tuple[tuple[str, int], ...]


def _local(selection_set: SelectionSetNode) -> _Local:
    """Count a selection set's own fields; iterative, so nesting costs no recursion."""
    depth = aliases = root_fields = field_count = 0
    spreads: list[tuple[str, int]] = []
    stack: list[tuple[SelectionSetNode, int]] = [(selection_set, 0)]
    while stack:
        current, enclosing = stack.pop()
        for node in current.selections:
            if isinstance(node, FieldNode):
                field_count += 1
                aliases += node.alias is not None
                root_fields += enclosing == 0
                depth = max(depth, enclosing + 1)
                if node.selection_set is not None:
                    stack.append((node.selection_set, enclosing + 1))
            elif isinstance(node, InlineFragmentNode):
                stack.append((node.selection_set, enclosing))
            elif isinstance(node, FragmentSpreadNode):
                spreads.append((node.name.value, enclosing))
    return _Local(OperationShape(depth, aliases, root_fields, field_count), tuple(spreads))


def _expanded(local: _Local, fragments: dict[str, OperationShape]) -> OperationShape:
    """A definition's shape with its spreads replaced by their fragments' shapes."""
    depth, aliases, root_fields, field_count = (
        local.shape.depth,
        local.shape.aliases,
        local.shape.root_fields,
        local.shape.fields,
    )
    for name, enclosing in local.spreads:
        spread = fragments.get(name)
        if spread is None:  # unknown, or part of a cycle: validation reports both
            continue
        depth = max(depth, enclosing + spread.depth)
        aliases += spread.aliases
        root_fields += spread.root_fields if enclosing == 0 else 0
        field_count += spread.fields
    return OperationShape(depth, aliases, root_fields, field_count)


def fragment_shapes(document: DocumentNode) -> dict[str, OperationShape]:
    """Each fragment's expanded shape, each computed once from the ones it spreads.

    Fragments are resolved in dependency order with an explicit stack; a spread that closes
    a cycle counts as empty (validation refuses cycles, this only has to terminate).
    """
    locals_: dict[str, _Local] = {}
    for definition in document.definitions:
        if isinstance(definition, FragmentDefinitionNode):
            locals_.setdefault(definition.name.value, _local(definition.selection_set))
    shapes: dict[str, OperationShape] = {}
    in_progress: set[str] = set()
    for root in locals_:
        if root in shapes:
            continue
        stack = [root]
        while stack:
            name = stack[-1]
            if name in shapes:
                stack.pop()
                continue
            in_progress.add(name)
            pending = [
                target
                for target, _ in locals_[name].spreads
                if target in locals_ and target not in shapes and target not in in_progress
            ]
            if pending:
                stack.extend(pending)
                continue
            shapes[name] = _expanded(locals_[name], shapes)
            in_progress.discard(name)
            stack.pop()
    return shapes


def measure_operations(
    document: DocumentNode,
) -> Iterator[tuple[OperationDefinitionNode, OperationShape]]:
    """Every operation of the document with its shape, in time linear in the document."""
    shapes = fragment_shapes(document)
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            yield definition, _expanded(_local(definition.selection_set), shapes)


# -- validation's budget -----------------------------------------------------------------


class FieldMergeCostExceeded(ValidationAbortedError):
    """Validation stopped because checking that fields can merge went over its budget."""


def validation_rules(limits: OperationLimits) -> tuple[type[ValidationRule], ...]:
    """The specified rules, with the field-merging check bounded by ``max_field_merge_cost``."""
    budget = limits.max_field_merge_cost
    if budget is None:
        return tuple(specified_rules)

    class BudgetedOverlappingFields(OverlappingFieldsCanBeMergedRule):
        cost_limit: ClassVar[int] = budget

        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.rule_context.remaining_complexity_budget = self.cost_limit

        def enter_selection_set(self, *args: Any) -> None:
            try:
                super().enter_selection_set(*args)
            except FieldMergeCostExceeded:
                raise
            except ValidationAbortedError:
                if self.rule_context.remaining_complexity_budget >= 0:
                    raise
                raise FieldMergeCostExceeded(
                    f"Checking that the operation's fields can be merged costs more than "
                    f"{self.cost_limit}, the limit (limits.max_field_merge_cost).",
                    extensions={"code": LIMIT_EXCEEDED, "limit": "max_field_merge_cost"},
                ) from None

    return tuple(
        BudgetedOverlappingFields if rule is OverlappingFieldsCanBeMergedRule else rule
        for rule in specified_rules
    )
