"""Products: owns the Product entity, a shared root field and a mutation."""

from __future__ import annotations

import asyncio
import enum

import strawberry

PRODUCTS = {
    "p1": {"upc": "p1", "name": "Pallet jack", "price": 900, "weight": 70, "category": "TOOLS"},
    "p2": {"upc": "p2", "name": "Stretch wrap", "price": 30, "weight": 5, "category": "PACKING"},
    "p3": {"upc": "p3", "name": "Label printer", "price": 250, "weight": 3, "category": "HIDDEN"},
}


@strawberry.enum
class Category(enum.Enum):
    TOOLS = "TOOLS"
    PACKING = "PACKING"
    HIDDEN = "HIDDEN"


@strawberry.federation.type(keys=["upc"])
class Product:
    upc: str
    name: str
    price: int
    weight: int
    category: Category | None = None

    @classmethod
    def resolve_reference(cls, upc: str) -> Product | None:
        return _product(upc)


def _product(upc: str) -> Product | None:
    row = PRODUCTS.get(upc)
    if row is None:
        return None
    return Product(
        upc=row["upc"],
        name=row["name"],
        price=row["price"],
        weight=row["weight"],
        category=Category(row["category"]),
    )


@strawberry.type
class Warehouse:
    code: str = strawberry.federation.field(shareable=True)
    city: str = strawberry.federation.field(shareable=True)


@strawberry.type
class Query:
    @strawberry.field
    def top_products(self, first: int = 5) -> list[Product]:
        return [p for p in (_product(upc) for upc in PRODUCTS) if p][:first]

    @strawberry.field
    def product(self, upc: str) -> Product | None:
        return _product(upc)

    @strawberry.federation.field(shareable=True)
    def warehouse(self) -> Warehouse:
        return Warehouse(code="W1", city="Rotterdam")

    @strawberry.field
    async def slow(self) -> str:
        await asyncio.sleep(2)
        return "late"

    @strawberry.field
    def broken(self) -> str | None:
        raise ValueError("products is having a bad day")

    @strawberry.field
    def bad_category(self) -> Product:
        return Product(
            upc="p3", name="Label printer", price=250, weight=3, category=Category.HIDDEN
        )


@strawberry.type
class Mutation:
    @strawberry.field
    def rename_product(self, upc: str, name: str) -> Product | None:
        if upc not in PRODUCTS:
            return None
        PRODUCTS[upc]["name"] = name
        return _product(upc)


schema = strawberry.federation.Schema(query=Query, mutation=Mutation, types=[Product])
