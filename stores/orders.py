"""The orders read model: one row per order, the latest change the ERP's change log brought.

Written only by the orders projection (`process_apis.projections_orders`) from `order.changed`
events. A row keeps the whole canonical order (its JSON form, `domain.orders.order_record`), the
ERP's change number, which decides which change is the latest whatever order changes reach the
log in (an older change read again never moves an order backwards), and the log position it
came from, so a rebuild from a point in time forgets exactly what later events brought.

Portal listings page by keyset, newest first: (ordered on, order id) descending; a page ends
at a key, the next starts strictly after it, so orders that arrive meanwhile never shift a
later page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

import orjson
from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    delete,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.orders import ORDER_TEXT_LIMITS, Order, order_from_record, order_record
from stores.sql import METADATA, insert_into

_POSITION = BigInteger().with_variant(Integer, "sqlite")
_ROWS_PER_STATEMENT = 400

ORDERS = Table(
    "orders",
    METADATA,
    Column("order_id", String(ORDER_TEXT_LIMITS["order_id"]), primary_key=True),
    Column("tenant_id", String(ORDER_TEXT_LIMITS["customer_id"]), nullable=False),
    Column("ordered_on", Date, nullable=False),
    Column("change_number", BigInteger, nullable=False),
    Column("record", Text, nullable=False),
    Column("position", _POSITION, nullable=False, index=True),
    Index("orders_by_tenant_newest", "tenant_id", "ordered_on", "order_id"),
)


@dataclass(frozen=True, slots=True)
class ChangedOrder:
    """What an `order.changed` event says: the whole order after the ERP's change."""

    order: Order
    change_number: int
    position: int


@dataclass(frozen=True, slots=True)
class StoredOrder:
    """An order as the read model holds it; `position`: the event that brought it."""

    order: Order
    change_number: int
    position: int


@dataclass(frozen=True, slots=True)
class OrderKey:
    """Where a newest-first page ended: the next page starts strictly after this order."""

    ordered_on: date
    order_id: str

    def token(self) -> str:
        return f"{self.ordered_on.isoformat()}~{self.order_id}"

    @classmethod
    def from_token(cls, token: str) -> OrderKey:
        """Raises ValueError for anything `token()` did not make."""
        day, separator, order_id = token.partition("~")
        too_long = len(order_id) > ORDER_TEXT_LIMITS["order_id"]
        if not separator or not order_id or too_long or "\x00" in order_id:
            raise ValueError("not a page key of the orders read model")
        return cls(date.fromisoformat(day), order_id)


@dataclass(frozen=True, slots=True)
class OrdersPage:
    orders: tuple[StoredOrder, ...]
    next_key: OrderKey | None


class OrderStore(Protocol):
    async def record_changes(self, changed: Iterable[ChangedOrder]) -> None: ...

    async def by_id(self, order_id: str) -> StoredOrder | None: ...

    async def page(self, tenant_id: str, *, first: int, after: OrderKey | None) -> OrdersPage: ...

    async def owners_of(self, order_ids: Sequence[str]) -> Mapping[str, str]: ...

    async def forget_after(self, position: int) -> None: ...


class SqlOrderStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def record_changes(self, changed: Iterable[ChangedOrder]) -> None:
        """Insert, or overwrite with a change at least as new; never with an older one."""
        latest: dict[str, ChangedOrder] = {}
        for fact in sorted(changed, key=lambda fact: (fact.change_number, fact.position)):
            latest[fact.order.order_id] = fact
        rows = [
            {
                "order_id": fact.order.order_id,
                "tenant_id": fact.order.customer_id,
                "ordered_on": fact.order.ordered_on,
                "change_number": fact.change_number,
                "record": orjson.dumps(order_record(fact.order)).decode(),
                "position": fact.position,
            }
            for fact in latest.values()
        ]
        if not rows:
            return
        async with self._engine.begin() as connection:
            for start in range(0, len(rows), _ROWS_PER_STATEMENT):
                statement = insert_into(self._engine, ORDERS).values(
                    rows[start : start + _ROWS_PER_STATEMENT]
                )
                columns = [name for name in rows[0] if name != "order_id"]
                statement = statement.on_conflict_do_update(
                    index_elements=[ORDERS.c.order_id],
                    set_={name: statement.excluded[name] for name in columns},
                    where=ORDERS.c.change_number <= statement.excluded.change_number,
                )
                await connection.execute(statement)

    async def by_id(self, order_id: str) -> StoredOrder | None:
        query = select(ORDERS).where(ORDERS.c.order_id == order_id)
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return _stored(row) if row is not None else None

    async def page(self, tenant_id: str, *, first: int, after: OrderKey | None) -> OrdersPage:
        """Up to `first` of the tenant's orders newest first, after `after`; one query."""
        if first < 1:
            raise ValueError("first must be at least 1")
        query = select(ORDERS).where(ORDERS.c.tenant_id == tenant_id)
        if after is not None:
            query = query.where(
                or_(
                    ORDERS.c.ordered_on < after.ordered_on,
                    and_(
                        ORDERS.c.ordered_on == after.ordered_on, ORDERS.c.order_id < after.order_id
                    ),
                )
            )
        query = query.order_by(ORDERS.c.ordered_on.desc(), ORDERS.c.order_id.desc()).limit(
            first + 1
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        found = tuple(_stored(row) for row in rows[:first])
        last = found[-1].order if len(rows) > first else None
        return OrdersPage(found, OrderKey(last.ordered_on, last.order_id) if last else None)

    async def owners_of(self, order_ids: Sequence[str]) -> Mapping[str, str]:
        """The tenant of each order the read model holds; unknown orders are left out."""
        wanted = list(dict.fromkeys(order_ids))
        owners: dict[str, str] = {}
        async with self._engine.connect() as connection:
            for start in range(0, len(wanted), _ROWS_PER_STATEMENT):
                chunk = wanted[start : start + _ROWS_PER_STATEMENT]
                query = select(ORDERS.c.order_id, ORDERS.c.tenant_id).where(
                    ORDERS.c.order_id.in_(chunk)
                )
                owners.update(
                    (row.order_id, row.tenant_id) for row in await connection.execute(query)
                )
        return owners

    async def forget_after(self, position: int) -> None:
        """A row holds one whole change, so forgetting a later one forgets the row; replaying
        the log from `position` brings back the latest change, the one it held."""
        async with self._engine.begin() as connection:
            await connection.execute(delete(ORDERS).where(ORDERS.c.position > position))


def _stored(row: Any) -> StoredOrder:
    return StoredOrder(
        order=order_from_record(orjson.loads(row.record)),
        change_number=row.change_number,
        position=row.position,
    )
