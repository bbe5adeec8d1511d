"""Reviews of the guarded accounts' users: a field behind a scope on an entity owned by the
other subgraph, a mutation behind a scope, and a subscription with a guarded field."""

from __future__ import annotations

from collections.abc import AsyncIterator

import strawberry

REVIEWS = {"u1": ["Sharp", "Kind"], "u2": ["Late"]}


@strawberry.type
class Review:
    body: str
    moderator_note: str | None = strawberry.federation.field(requires_scopes=[["moderate"]])


@strawberry.federation.type(keys=["id"])
class User:
    id: strawberry.ID
    reviews: list[Review] | None = strawberry.federation.field(requires_scopes=[["read:reviews"]])
    review_count: int = 0

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> User:
        bodies = REVIEWS.get(str(id), [])
        return User(
            id=id,
            reviews=[Review(body=body, moderator_note="ok") for body in bodies],
            review_count=len(bodies),
        )


@strawberry.type
class Query:
    @strawberry.field
    def top_review(self) -> Review | None:
        return Review(body="Sharp", moderator_note="pinned")


@strawberry.type
class Mutation:
    @strawberry.federation.mutation(requires_scopes=[["admin"]])
    def delete_review(self, body: str) -> bool | None:
        return body in {b for bodies in REVIEWS.values() for b in bodies}

    @strawberry.mutation
    def like_review(self, body: str) -> int:
        return len(body)


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def reviewed(self, count: int = 2) -> AsyncIterator[Review]:
        for index in range(count):
            yield Review(body=f"review {index}", moderator_note=f"note {index}")

    @strawberry.federation.field(is_subscription=True, authenticated=True)
    async def moderation(self) -> AsyncIterator[Review]:
        yield Review(body="flagged", moderator_note="hidden")


schema = strawberry.federation.Schema(
    query=Query, mutation=Mutation, subscription=Subscription, types=[User]
)
