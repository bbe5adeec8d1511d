"""Which operation runs, and the requests the router refuses before any subgraph call."""

from __future__ import annotations

import pytest
from graphql import get_introspection_query

from federation.router import OperationError, Router, Supergraph

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize(
    ("document", "operation_name", "message"),
    [
        ("query A { me { id } } query B { me { name } }", None, "Must provide operation name"),
        ("query A { me { id } }", "B", 'Unknown operation named "B".'),
        ("subscription { me { id } }", None, "subscription operation is not supported"),
        ("{ me { id }", None, "Syntax Error"),
        ("{ me { unknown } }", None, "Cannot query field 'unknown'"),
    ],
)
async def test_documents_that_cannot_run_are_refused_with_a_message(
    supergraph: Supergraph, document: str, operation_name: str | None, message: str
) -> None:
    with pytest.raises(OperationError) as refused:
        await Router(supergraph).execute(document, operation_name=operation_name)
    assert message in refused.value.errors[0]["message"]


async def test_the_named_operation_runs(supergraph: Supergraph) -> None:
    router = Router(supergraph)
    document = 'query A { me { id } } query B { product(upc: "p1") { name } }'
    assert await router.execute(document, operation_name="B") == {
        "data": {"product": {"name": "Pallet jack"}}
    }


async def test_variables_of_the_wrong_type_are_refused(supergraph: Supergraph) -> None:
    with pytest.raises(OperationError) as refused:
        await Router(supergraph).execute(
            "query ($upc: String!) { product(upc: $upc) { name } }", {"upc": 7}
        )
    assert refused.value.kind == "variables"


async def test_a_prepared_operation_leaves_a_full_cache_oldest_first(
    supergraph: Supergraph,
) -> None:
    router = Router(supergraph, plan_cache_size=1)
    first = router.prepare("{ me { id } }")
    router.prepare("{ me { name } }")
    assert router.prepare("{ me { name } }") is router.prepare("{ me { name } }")
    assert router.prepare("{ me { id } }") is not first


async def test_introspection_errors_are_reported_with_the_data(supergraph: Supergraph) -> None:
    result = await Router(supergraph).execute(
        "query ($name: String!) { __type(name: $name) { name } me { id } }", {"name": "User"}
    )
    assert result["data"]["__type"] == {"name": "User"}
    assert result["data"]["me"]["id"]


async def test_introspection_is_refused_when_the_caller_may_not_introspect(
    supergraph: Supergraph,
) -> None:
    router = Router(supergraph)
    with pytest.raises(OperationError) as refused:
        await router.execute("{ __schema { queryType { name } } }", introspection=False)
    assert refused.value.errors[0]["extensions"] == {"code": "INTROSPECTION_DISABLED"}
    assert await router.execute("{ me { id } }", introspection=False) == {
        "data": {"me": {"id": "u1"}}
    }


@pytest.mark.parametrize(
    "document",
    [
        '{ ... on Query { __type(name: "User") { name } me { id } } }',
        'query { ...Root } fragment Root on Query { __type(name: "User") { name } me { id } }',
        'query ($on: Boolean!) { ... @include(if: $on) { __type(name: "User") { name } }'
        " me { id } }",
    ],
)
async def test_introspection_selected_through_root_fragments_is_answered(
    supergraph: Supergraph, document: str
) -> None:
    result = await Router(supergraph).execute(document, {"on": True} if "$on" in document else None)
    assert result == {"data": {"__type": {"name": "User"}, "me": {"id": "u1"}}}


async def test_an_in_process_location_without_attribute_is_refused(supergraph: Supergraph) -> None:
    with pytest.raises(ValueError, match="module:attribute"):
        Router(supergraph, subgraphs={"products": "inproc:tests.federation.subgraphs.products"})


async def test_a_full_introspection_answers_every_type_and_each_request_its_own_copy(
    supergraph: Supergraph,
) -> None:
    router = Router(supergraph)
    first = await router.execute(get_introspection_query())
    names = {named["name"] for named in first["data"]["__schema"]["types"]}
    assert {"Query", "User", "String", "__Type"} <= names
    first["data"]["__schema"]["types"].clear()  # a caller changing its answer changes no other
    second = await router.execute(get_introspection_query())
    assert {named["name"] for named in second["data"]["__schema"]["types"]} == names
