"""Reviews: references Product and User, provides usernames, owns a union and an interface."""

from __future__ import annotations

from typing import Annotated

import strawberry

REVIEWS = [
    {"id": "r1", "body": "Sturdy", "author": "u1", "product": "p1", "stars": 5},
    {"id": "r2", "body": "Tears easily", "author": "u2", "product": "p2", "stars": 2},
    {"id": "r3", "body": "Good value", "author": "u1", "product": "p2", "stars": 4},
]
GHOST = {"id": "r4", "body": "Ghost", "author": "u404", "product": "p1", "stars": 1}
USERNAMES = {"u1": "ada", "u2": "bob"}


@strawberry.federation.interface(keys=["id"])
class Node:
    id: strawberry.ID


@strawberry.federation.type(keys=["id"])
class User(Node):
    username: str = strawberry.federation.field(external=True)

    @strawberry.field
    def nickname(self) -> str:
        return f"{self.username} (reviews)"

    @strawberry.field
    def reviews(self) -> list[Review]:
        return [_review(r) for r in REVIEWS if r["author"] == self.id]

    @classmethod
    def resolve_reference(cls, id: strawberry.ID, username: str = "") -> User:
        return User(id=id, username=username)


@strawberry.federation.type(keys=["upc"])
class Product:
    upc: str

    @strawberry.field
    def reviews(self) -> list[Review]:
        return [_review(r) for r in REVIEWS if r["product"] == self.upc]

    @classmethod
    def resolve_reference(cls, upc: str) -> Product:
        return Product(upc=upc)


@strawberry.federation.type(keys=["id"])
class Review(Node):
    body: str
    stars: int
    author_id: strawberry.Private[str]
    product_upc: strawberry.Private[str]

    @strawberry.federation.field(provides=["username"])
    def author(self) -> User:
        return User(id=self.author_id, username=USERNAMES.get(self.author_id, "?"))

    @strawberry.field
    def product(self) -> Product:
        return Product(upc=self.product_upc)

    @strawberry.field
    def required_author(self) -> User:
        # A non-null field whose entity does not exist in accounts (u404): null propagation.
        return User(id=self.author_id, username="")


def _review(row: dict) -> Review:
    return Review(
        id=row["id"],
        body=row["body"],
        stars=row["stars"],
        author_id=row["author"],
        product_upc=row["product"],
    )


SearchResult = Annotated[Review | User, strawberry.union("SearchResult")]


@strawberry.type
class Query:
    @strawberry.field
    def latest_reviews(self) -> list[Review]:
        return [_review(r) for r in REVIEWS]

    @strawberry.field
    def ghost_review(self) -> Review | None:
        # Its author does not exist in accounts: exercises null propagation.
        return _review(GHOST)

    @strawberry.field
    def search(self, text: str) -> list[SearchResult]:
        found: list = [_review(r) for r in REVIEWS if text.lower() in r["body"].lower()]
        found += [User(id=k, username=v) for k, v in USERNAMES.items() if text in v]
        return found

    @strawberry.field
    def nodes(self) -> list[Node]:
        return [_review(REVIEWS[0]), User(id="u2", username="bob")]


schema = strawberry.federation.Schema(query=Query, types=[User, Product, Review])
