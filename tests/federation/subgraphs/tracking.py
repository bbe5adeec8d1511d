"""Tracking: extends Parcel with where it is, for subscriptions resolving entities per event.

``location`` changes with every call, so a test sees that each event is resolved afresh;
``customsNote`` fails with internals in its message (for error re-pathing and redaction).
"""

from __future__ import annotations

import itertools

import strawberry

_LOOKUPS = itertools.count(1)


@strawberry.federation.type(keys=["id"])
class Parcel:
    id: strawberry.ID

    @strawberry.field
    def location(self) -> str:
        return f"hub {next(_LOOKUPS)}"

    @strawberry.field
    def carrier(self) -> str:
        return "ACME" if str(self.id).startswith("p") else "OTHER"

    @strawberry.field
    def customs_note(self) -> str | None:
        raise RuntimeError("customs service at 10.9.8.7 timed out")

    @strawberry.field
    def weight_grams(self) -> int:
        raise RuntimeError("scale offline")

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Parcel:
        return Parcel(id=id)


@strawberry.type
class Query:
    @strawberry.field
    def tracking_version(self) -> str:
        return "1"


schema = strawberry.federation.Schema(query=Query, types=[Parcel])
