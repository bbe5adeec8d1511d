"""Contracts: API schemas filtered by @tag, and a router serving one per request by name."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import print_schema
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.composition import compose
from federation.router import Router, Supergraph
from federation.router.contracts import ContractError, build_contract_schema
from federation.router.errors import OperationError
from federation.router.options import RequestOptions
from tests.federation.sdl_subgraph import SdlSubgraph

TAG_DEFINITION = (
    "directive @tag(name: String!) repeatable on FIELD_DEFINITION | OBJECT | INTERFACE | UNION"
    " | ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION"
)

ORDERS_SDL = f"""
extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@tag"])
{TAG_DEFINITION}

type Query {{
  order(id: ID!): Order @tag(name: "partner")
  orders(first: Int = 20, status: OrderStatus @tag(name: "internal")): [Order!]!
    @tag(name: "partner")
  audit(id: ID!): AuditEntry
  search(text: String!): [SearchResult!]! @tag(name: "partner")
}}

type Mutation {{
  cancelOrder(id: ID!, input: CancelInput!): Order @tag(name: "partner")
  holdOrder(id: ID!, until: String! @tag(name: "internal")): Order @tag(name: "partner")
}}

input CancelInput {{
  reason: String!
  approvedBy: String @tag(name: "internal")
  costCentre: String! @tag(name: "finance")
}}

type Order @key(fields: "id") @tag(name: "partner") {{
  id: ID!
  status: OrderStatus!
  margin: Float @tag(name: "internal")
  audit: AuditEntry
}}

type Invoice @tag(name: "partner") {{
  number: ID!
}}

union SearchResult = Order | Invoice | AuditEntry

type AuditEntry {{
  who: String!
}}

enum OrderStatus {{
  OPEN
  SHIPPED
  HELD @tag(name: "internal")
}}
"""


@pytest.fixture(scope="module")
def orders() -> SdlSubgraph:
    return SdlSubgraph(
        "orders",
        ORDERS_SDL,
        root={
            "order": lambda id: {"id": id, "status": "OPEN", "margin": 0.3},
            "audit": lambda id: {"who": "ops"},
        },
    )


@pytest.fixture(scope="module")
def supergraph(orders: SdlSubgraph) -> Supergraph:
    return Supergraph.from_sdl(compose([orders.source]).supergraph_sdl)


def sdl(supergraph: Supergraph, include: list[str], exclude: list[str]) -> str:
    return print_schema(build_contract_schema(supergraph, include, exclude))


def test_excluded_tags_remove_fields_arguments_values_and_what_depends_on_them(
    supergraph: Supergraph,
) -> None:
    printed = sdl(supergraph, [], ["internal"])
    assert "margin" not in printed
    assert "status: OrderStatus)" not in printed, "the excluded argument stays"
    assert "orders(first: Int = 20): [Order!]!" in printed
    assert "HELD" not in printed and "SHIPPED" in printed
    assert "holdOrder" not in printed, "a field whose required argument is excluded stays"
    assert "approvedBy" not in printed
    assert "audit(id: ID!): AuditEntry" in printed, "untagged fields stay without include tags"


def test_an_excluded_required_input_field_removes_its_input_type_and_the_fields_using_it(
    supergraph: Supergraph,
) -> None:
    printed = sdl(supergraph, [], ["finance"])
    assert "CancelInput" not in printed
    assert "cancelOrder" not in printed
    assert "holdOrder" in printed


def test_included_tags_keep_only_tagged_fields_and_their_types(supergraph: Supergraph) -> None:
    printed = sdl(supergraph, ["partner"], ["internal"])
    assert (
        "type Query {\n  order(id: ID!): Order\n  orders(first: Int = 20): [Order!]!\n" in printed
    )
    assert "audit" not in printed and "AuditEntry" not in printed, printed
    assert "union SearchResult = Order | Invoice" in printed
    assert "margin" not in printed
    assert "cancelOrder(id: ID!, input: CancelInput!): Order" in printed
    assert "holdOrder" not in printed


def test_a_contract_without_any_query_field_is_refused(supergraph: Supergraph) -> None:
    with pytest.raises(ContractError, match="no Query field"):
        build_contract_schema(supergraph, ["nobody"], [])


def test_a_contract_that_breaks_an_interface_is_refused() -> None:
    subgraph = SdlSubgraph(
        "things",
        f"""
extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@tag"])
{TAG_DEFINITION}
type Query {{ thing: Thing }}
interface Thing {{ id: ID! name: String }}
type Box implements Thing {{ id: ID! name: String @tag(name: "internal") }}
""",
    )
    supergraph = Supergraph.from_sdl(compose([subgraph.source]).supergraph_sdl)
    with pytest.raises(ContractError, match=r"Thing\.name"):
        build_contract_schema(supergraph, [], ["internal"])


def test_unreachable_types_are_hidden(supergraph: Supergraph) -> None:
    printed = sdl(supergraph, [], ["partner"])
    assert "type Query {\n  audit(id: ID!): AuditEntry\n}" in printed
    assert "OrderStatus" not in printed and "CancelInput" not in printed
    assert "Mutation" not in printed


@pytest.fixture
def router(supergraph: Supergraph, orders: SdlSubgraph) -> Router:
    return Router(
        supergraph,
        transports={"orders": orders},  # type: ignore[dict-item]
        schema_variants={"partner": build_contract_schema(supergraph, ["partner"], ["internal"])},
    )


def refusal(router: Router, query: str, variant: str | None) -> list[dict[str, Any]]:
    with pytest.raises(OperationError) as refused:
        router.prepare(query, None, variant)
    assert refused.value.kind == "validation"
    return refused.value.errors


def test_an_operation_outside_the_contract_fails_validation_as_an_unknown_field(
    router: Router,
) -> None:
    errors = refusal(router, '{ audit(id: "1") { who } }', "partner")
    assert errors[0]["message"] == "Cannot query field 'audit' on type 'Query'."
    errors = refusal(router, '{ order(id: "1") { margin } }', "partner")
    assert errors[0]["message"] == "Cannot query field 'margin' on type 'Order'."
    errors = refusal(router, "{ orders(status: OPEN) { id } }", "partner")
    assert "Unknown argument 'status'" in errors[0]["message"]
    assert router.prepare('{ audit(id: "1") { who } }').kind == "query"


def test_plans_are_kept_per_variant(router: Router) -> None:
    query = '{ order(id: "7") { id margin } }'
    assert router.prepare(query).kind == "query"
    refusal(router, query, "partner")
    assert router.prepare(query).kind == "query"


async def test_the_contract_serves_its_fields_and_introspects_as_the_contract(
    router: Router,
) -> None:
    answer = await router.execute('{ order(id: "7") { id status } }', variant="partner")
    assert answer == {"data": {"order": {"id": "7", "status": "OPEN"}}}
    introspected = await router.execute(
        '{ __type(name: "Query") { fields { name } } h: __type(name: "AuditEntry") { name } }',
        variant="partner",
    )
    names = [field["name"] for field in introspected["data"]["__type"]["fields"]]
    assert names == ["order", "orders", "search"]
    assert introspected["data"]["h"] is None
    full = await router.execute('{ __type(name: "AuditEntry") { name } }')
    assert full["data"]["__type"] == {"name": "AuditEntry"}


async def test_subscribe_uses_the_variant_from_the_request_options(router: Router) -> None:
    query = '{ audit(id: "1") { who } }'
    refused = await router.subscribe(
        query, None, None, options=RequestOptions(schema_variant="partner")
    )
    assert isinstance(refused, dict)
    assert refused["errors"][0]["message"] == "Cannot query field 'audit' on type 'Query'."
    not_a_subscription = await router.subscribe(query, None, None)
    assert isinstance(not_a_subscription, dict)
    assert not_a_subscription["errors"][0]["extensions"]["code"] == "NOT_A_SUBSCRIPTION"


def test_an_unknown_variant_is_the_callers_error(router: Router) -> None:
    with pytest.raises(KeyError):
        router.prepare("{ __typename }", None, "nobody")


def test_the_operation_name_of_a_variants_document_is_known_for_that_variant(
    router: Router,
) -> None:
    """Metrics name requests by the prepared document's operation, per variant."""
    document = 'query PartnerOrder { order(id: "1") { id } }'
    router.prepare(document, None, "partner")
    assert router.operation_name(document, None, "partner") == "PartnerOrder"
    assert router.operation_name(document) is None, "not prepared for the whole API yet"


TAGS = ["partner", "internal", "finance", "nobody"]


@settings(max_examples=40, deadline=None)
@given(
    include=st.lists(st.sampled_from(TAGS), unique=True),
    exclude=st.lists(st.sampled_from(TAGS), unique=True),
)
def test_any_contract_is_a_valid_subset_of_the_api_without_excluded_elements(
    supergraph: Supergraph, include: list[str], exclude: list[str]
) -> None:
    try:
        contract = build_contract_schema(supergraph, include, exclude)
    except ContractError:
        return  # refused with a reason: never served
    api = supergraph.api_schema
    for name, named in contract.type_map.items():
        assert name in api.type_map, name
        for field_name, field in (getattr(named, "fields", None) or {}).items():
            assert str(field.type) == str(api.type_map[name].fields[field_name].type)
    printed = print_schema(contract)
    if "internal" in exclude:
        assert "margin" not in printed and "HELD" not in printed and "holdOrder" not in printed
    if "finance" in exclude:
        assert "costCentre" not in printed
    if include and "partner" not in include:
        assert "Order" not in contract.type_map
