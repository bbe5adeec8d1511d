"""The orders read model on SQLite and the real PostgreSQL: the latest change per order wins
whatever order changes arrive in, keyset pages of a tenant newest first cover every order once,
owners are answered from it, and forgetting after a position drops exactly what came later."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.orders import Order, OrderStatus
from domain.parties import Address
from stores import create_tables, open_engine
from stores.orders import ChangedOrder, OrderKey, SqlOrderStore

DAY = date(2026, 11, 1)


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request, tmp_path) -> AsyncIterator[AsyncEngine]:
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'state.sqlite3'}"
    engine = open_engine(url)
    await create_tables(engine)
    yield engine
    await engine.dispose()


def order(order_id: str, tenant: str, status: OrderStatus, days: int = 0) -> Order:
    return Order(
        order_id=order_id,
        customer_id=tenant,
        status=status,
        ship_to=Address("n", "s", "c", "p", "NL"),
        ordered_on=DAY + timedelta(days=days),
        requested_delivery_on=None,
        currency="EUR",
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def test_an_older_change_never_overwrites_a_newer_one(engine) -> None:
    store = SqlOrderStore(engine)
    tenant, order_id = unique("C"), unique("SO")
    shipped = ChangedOrder(order(order_id, tenant, OrderStatus.SHIPPED), 7, position=10)
    released = ChangedOrder(order(order_id, tenant, OrderStatus.RELEASED), 5, position=12)
    await store.record_changes([shipped])
    await store.record_changes([released])  # read again later, at a later position
    held = await store.by_id(order_id)
    assert held is not None and (held.order.status, held.change_number) == (
        OrderStatus.SHIPPED,
        7,
    )
    await store.record_changes([released, shipped])  # both in one batch, in any order
    assert (await store.by_id(order_id)) == held
    assert await store.owners_of([order_id, "SO-NONE"]) == {order_id: tenant}


async def test_forgetting_after_a_position_drops_the_orders_later_events_brought(engine) -> None:
    store = SqlOrderStore(engine)
    tenant = unique("C")
    early, late = unique("SO"), unique("SO")
    await store.record_changes(
        [
            ChangedOrder(order(early, tenant, OrderStatus.OPEN), 1, position=100),
            ChangedOrder(order(late, tenant, OrderStatus.OPEN), 2, position=200),
        ]
    )
    await store.forget_after(150)
    assert await store.by_id(early) is not None and await store.by_id(late) is None


async def test_a_page_of_zero_is_refused_and_an_empty_tenant_has_no_pages(engine) -> None:
    store = SqlOrderStore(engine)
    with pytest.raises(ValueError):
        await store.page("C-1", first=0, after=None)
    empty = await store.page(unique("C"), first=5, after=None)
    assert empty.orders == () and empty.next_key is None


def test_a_page_key_reads_back_only_what_it_wrote() -> None:
    key = OrderKey(DAY, "SO-1~x")
    assert OrderKey.from_token(key.token()) == key
    for token in (
        "",
        "~",
        "SO-1",
        "2026-11-01~",
        "nope~SO-1",
        f"2026-11-01~{'S' * 101}",
        "2026-11-01~SO\x00",
    ):
        with pytest.raises(ValueError):
            OrderKey.from_token(token)


changes = st.lists(
    st.tuples(
        st.integers(0, 5),  # which order
        st.integers(1, 50),  # change number
        st.sampled_from(list(OrderStatus)),
        st.integers(0, 3),  # order date, days after DAY
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=15, deadline=None)
@given(changes=changes, batch=st.integers(1, 7), page=st.integers(1, 4))
def test_the_latest_change_wins_and_pages_cover_each_order_once_newest_first(
    tmp_path_factory, changes, batch, page
) -> None:
    tenant = unique("C")
    facts = [
        ChangedOrder(
            order(f"SO-{which}", tenant, status, days=days),
            number,
            position,
        )
        for position, (which, number, status, days) in enumerate(changes, start=1)
    ]

    async def scenario() -> tuple[dict, list[str]]:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('o') / 'o.sqlite3'}"
        engine = open_engine(url)
        await create_tables(engine)
        try:
            store = SqlOrderStore(engine)
            for start in range(0, len(facts), batch):
                await store.record_changes(facts[start : start + batch])
            held = {f.order.order_id: await store.by_id(f.order.order_id) for f in facts}
            listed: list[str] = []
            after = None
            for _ in range(len(facts) + 1):
                found = await store.page(tenant, first=page, after=after)
                listed += [stored.order.order_id for stored in found.orders]
                after = found.next_key
                if after is None:
                    break
            return held, listed
        finally:
            await engine.dispose()

    held, listed = asyncio.run(scenario())
    for order_id, stored in held.items():
        mine = [f for f in facts if f.order.order_id == order_id]
        top = max(f.change_number for f in mine)
        assert stored is not None and stored.change_number == top
        assert stored.order in {f.order for f in mine if f.change_number == top}
    assert sorted(listed) == sorted(held), "every order once"
    keys = [(held[i].order.ordered_on, i) for i in listed]  # type: ignore[union-attr]
    assert keys == sorted(keys, reverse=True), "newest first"
