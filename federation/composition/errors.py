"""The one exception composition raises, carrying every problem found at once.

Composition reports all the errors it can find in one pass so that a subgraph team fixes
them together instead of discovering them one run at a time.
"""

from __future__ import annotations


class CompositionError(Exception):
    """Subgraphs that cannot be composed; ``errors`` holds one precise message per problem."""

    def __init__(self, errors: list[str] | tuple[str, ...]) -> None:
        self.errors: tuple[str, ...] = tuple(errors)
        super().__init__("\n".join(self.errors) if self.errors else "composition failed")
