"""Inventory: extends Product with stock and a shipping estimate that @requires price and weight."""

from __future__ import annotations

import strawberry

STOCK = {"p1": 4, "p2": 0, "p3": 12}


@strawberry.federation.type(keys=["upc"])
class Product:
    upc: str
    price: int = strawberry.federation.field(external=True)
    weight: int = strawberry.federation.field(external=True)

    @strawberry.field
    def in_stock(self) -> bool:
        return STOCK.get(self.upc, 0) > 0

    @strawberry.federation.field(requires=["price weight"])
    def shipping_estimate(self) -> int:
        # Free shipping above 500, otherwise half the weight.
        return 0 if self.price > 500 else self.weight // 2

    @classmethod
    def resolve_reference(cls, upc: str, price: int = 0, weight: int = 0) -> Product:
        return Product(upc=upc, price=price, weight=weight)


@strawberry.type
class Warehouse:
    code: str = strawberry.federation.field(shareable=True)
    city: str = strawberry.federation.field(shareable=True)
    docks: int


@strawberry.type
class Query:
    @strawberry.federation.field(shareable=True)
    def warehouse(self) -> Warehouse:
        return Warehouse(code="W1", city="Rotterdam", docks=12)


schema = strawberry.federation.Schema(query=Query, types=[Product])
