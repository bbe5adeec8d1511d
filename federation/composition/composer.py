"""``compose``: subgraph sources in, supergraph and API schema SDL out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from federation.composition.api_sdl import api_schema_sdl, check_inaccessible
from federation.composition.errors import CompositionError
from federation.composition.merge import merge_subgraphs
from federation.composition.printing import print_supergraph
from federation.composition.reading import read_subgraph
from federation.composition.satisfiability import check_satisfiability
from federation.composition.sources import SubgraphSource
from federation.composition.subgraph import Subgraph
from federation.composition.validation import validate_subgraph


@dataclass(frozen=True)
class CompositionResult:
    """The router's input (``supergraph_sdl``) and the schema clients see (``api_schema_sdl``)."""

    supergraph_sdl: str
    api_schema_sdl: str


def compose(subgraphs: Iterable[SubgraphSource]) -> CompositionResult:
    """Compose federation subgraphs; raises CompositionError with every problem found.

    Errors are gathered stage by stage (reading, per-subgraph checks, merging, reachability)
    and a later stage runs only when the earlier ones found nothing, since its messages
    would otherwise mostly echo the first problem.
    """
    sources = list(subgraphs)
    errors: list[str] = []
    if not sources:
        raise CompositionError(["No subgraphs to compose"])
    for name, count in Counter(source.name for source in sources).items():
        if count > 1:
            errors.append(f'Subgraph name "{name}" is used by {count} subgraphs')
        if not name:
            errors.append("A subgraph has an empty name")
    interpreted: list[Subgraph] = []
    for source in sources:
        try:
            interpreted.append(read_subgraph(source))
        except CompositionError as error:
            errors.extend(error.errors)
    if errors:
        raise CompositionError(errors)
    for subgraph in interpreted:
        errors.extend(validate_subgraph(subgraph))
    if errors:
        raise CompositionError(errors)
    supergraph = merge_subgraphs(interpreted)
    errors.extend(check_inaccessible(supergraph))
    errors.extend(check_satisfiability(interpreted, supergraph))
    if errors:
        raise CompositionError(errors)
    return CompositionResult(
        supergraph_sdl=print_supergraph(supergraph),
        api_schema_sdl=api_schema_sdl(supergraph),
    )
