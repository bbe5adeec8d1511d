"""The deprecated parts of the schema an operation uses: found once per document, reported
on every run through ``RequestOptions.deprecated_use``."""

from __future__ import annotations

import pytest

from federation.composition import compose
from federation.router import Router, Supergraph
from federation.router.options import RequestOptions
from tests.federation.sdl_subgraph import SdlSubgraph

SDL = """
extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])

type Query {
  order(id: ID!, legacy: Boolean @deprecated(reason: "Every id is current now.")): Order
  orders(status: OrderStatus, filter: OrderFilter): [Order!]!
}

input OrderFilter {
  customer: String
  region: String @deprecated(reason: "Filter by customer: regions were merged.")
}

type Order @key(fields: "id") {
  id: ID!
  code: String @deprecated(reason: "Use id: codes are no longer issued.")
  status: OrderStatus!
}

enum OrderStatus {
  OPEN
  ONHOLD @deprecated(reason: "Use HELD, which the ERP reports.")
  HELD
}
"""


@pytest.fixture(scope="module")
def orders() -> SdlSubgraph:
    order = {"id": "1", "code": "C1", "status": "OPEN"}
    return SdlSubgraph("orders", SDL, root={"order": lambda id: order, "orders": [order]})


@pytest.fixture
def router(orders: SdlSubgraph) -> Router:
    supergraph = Supergraph.from_sdl(compose([orders.source]).supergraph_sdl)
    return Router(supergraph, transports={"orders": orders})  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('{ order(id: "1") { id status } }', ()),
        ('{ order(id: "1") { code } }', ("Order.code",)),
        ('{ order(id: "1", legacy: true) { id } }', ("Query.order(legacy:)",)),
        ("{ orders(status: ONHOLD) { id } }", ("OrderStatus.ONHOLD",)),
        ("{ orders(status: HELD) { id } }", ()),
        ('{ orders(filter: {region: "EU"}) { id } }', ("OrderFilter.region",)),
        (
            '{ a: order(id: "1") { ...F } b: orders(status: ONHOLD) { ...F } } '
            "fragment F on Order { code code }",
            ("Order.code", "OrderStatus.ONHOLD"),
        ),
        ('{ ... on Query { order(id: "1") { ... on Order { code } } } }', ("Order.code",)),
    ],
)
def test_deprecated_coordinates_are_found_once_per_document(
    router: Router, query: str, expected: tuple[str, ...]
) -> None:
    assert router.prepare(query).deprecated == expected


def test_only_the_chosen_operations_fragments_count(router: Router) -> None:
    document = (
        'query A { order(id: "1") { id } } query B { order(id: "1") { ...F } } '
        "fragment F on Order { code }"
    )
    assert router.prepare(document, "A").deprecated == ()
    assert router.prepare(document, "B").deprecated == ("Order.code",)


def test_enum_values_sent_as_variables_belong_to_the_request_and_are_not_seen(
    router: Router,
) -> None:
    query = "query($s: OrderStatus) { orders(status: $s) { id } }"
    assert router.prepare(query).deprecated == ()


async def test_each_run_reports_the_coordinates_to_the_request_hook(router: Router) -> None:
    seen: list[tuple[str, ...]] = []
    query = '{ order(id: "1") { id code } }'
    for _ in range(3):
        answer = await router.execute(query, deprecated_use=seen.append)
        assert answer == {"data": {"order": {"id": "1", "code": "C1"}}}
    await router.execute('{ order(id: "1") { id } }', deprecated_use=seen.append)
    assert seen == [("Order.code",)] * 3


async def test_a_refused_operation_reports_nothing(router: Router) -> None:
    seen: list[tuple[str, ...]] = []
    answer = await router.subscribe(
        '{ order(id: "1") { code } }',
        None,
        None,
        options=RequestOptions(deprecated_use=seen.append),
    )
    assert isinstance(answer, dict) and "errors" in answer
    assert seen == []
