"""Accounts with access rules on fields, object types, an interface's implementations, an
enum and a scalar: the authorization tests' first subgraph."""

from __future__ import annotations

from enum import Enum

import strawberry

USERS = {
    "u1": {"id": "u1", "name": "Ada", "email": "ada@example.com", "salary": 100},
    "u2": {"id": "u2", "name": "Bob", "email": "bob@example.com", "salary": 90},
}

Badge = strawberry.federation.scalar(
    str, name="Badge", requires_scopes=[["badges"]], description="A staff badge number."
)


@strawberry.federation.enum(authenticated=True)
class Clearance(Enum):
    LOW = "LOW"
    HIGH = "HIGH"


@strawberry.federation.type(keys=["id"])
class User:
    id: strawberry.ID
    name: str
    email: str | None = strawberry.federation.field(requires_scopes=[["read:email"]])
    salary: int | None = strawberry.federation.field(policy=[["hr"], ["finance", "manager"]])
    code: str = strawberry.federation.field(authenticated=True, description="Non-null.")
    badge: Badge | None = None  # type: ignore[valid-type]
    clearance: Clearance | None = None

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> User | None:
        return _user(str(id))


def _user(user_id: str) -> User | None:
    row = USERS.get(user_id)
    if row is None:
        return None
    return User(**row, code=f"C-{user_id}", badge=f"B-{user_id}", clearance=Clearance.HIGH)


@strawberry.federation.type(authenticated=True, description="Only for signed-in callers.")
class Payroll:
    total: int
    currency: str


@strawberry.interface
class Post:
    id: strawberry.ID
    title: str


@strawberry.type
class PublicPost(Post):
    pass


@strawberry.federation.type(authenticated=True)
class PrivatePost(Post):
    audience: str | None


@strawberry.type
class Query:
    @strawberry.federation.field(authenticated=True)
    def me(self) -> User | None:
        return _user("u1")

    @strawberry.field
    def user(self, id: strawberry.ID) -> User | None:
        return _user(str(id))

    @strawberry.field
    def users(self) -> list[User]:
        return [u for u in (_user(key) for key in USERS) if u is not None]

    @strawberry.field
    def payroll(self) -> Payroll | None:
        return Payroll(total=190, currency="EUR")

    @strawberry.field
    def posts(self) -> list[Post] | None:
        return [
            PublicPost(id=strawberry.ID("p1"), title="Open"),
            PrivatePost(id=strawberry.ID("p2"), title="Closed", audience="staff"),
        ]

    @strawberry.field
    def public_posts(self) -> list[PublicPost]:
        return [PublicPost(id=strawberry.ID("p1"), title="Open")]


schema = strawberry.federation.Schema(query=Query, types=[User, PublicPost, PrivatePost])
