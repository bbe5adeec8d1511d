"""What composition takes in: one subgraph's name, routing URL and SDL text."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SubgraphSource:
    """A subgraph as the router will reach it; ``url`` is written into the supergraph."""

    name: str
    url: str
    sdl: str
