"""Accounts: owns User; ``email`` is @inaccessible; ``nickname`` moved here with @override."""

from __future__ import annotations

import strawberry

USERS = {
    "u1": {"id": "u1", "username": "ada", "name": "Ada", "email": "ada@example.com"},
    "u2": {"id": "u2", "username": "bob", "name": "Bob", "email": "bob@example.com"},
}


@strawberry.federation.type(keys=["id"])
class User:
    id: strawberry.ID
    username: str = strawberry.federation.field(shareable=True)
    name: str
    email: str = strawberry.federation.field(inaccessible=True)

    @strawberry.federation.field(override="reviews")
    def nickname(self) -> str:
        return f"{self.username} (accounts)"

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> User | None:
        row = USERS.get(str(id))
        return User(**row) if row else None


@strawberry.type
class Query:
    @strawberry.field
    def me(self) -> User:
        return User(**USERS["u1"])

    @strawberry.field
    def user(self, id: strawberry.ID) -> User | None:
        row = USERS.get(str(id))
        return User(**row) if row else None


schema = strawberry.federation.Schema(query=Query, types=[User])
