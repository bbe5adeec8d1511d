"""Arguments are checked at the edge: a malformed key is the caller's error, never a backend call.

Through HTTP against `logistics-gateway run` in front of the reference backends, whose
`/_admin/requests` log says whether the gateway called them at all.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.gateway.conftest import RunningGateway, polled, running_gateway, wait_for_orders
from tests.sandbox_processes import Sandbox

MALFORMED_KEYS = [
    "",
    " ",
    ".",
    "..",
    "/",
    "../customers/C-1002",
    "SO-100001/../../customers",
    "%2e%2e",
    "SO-100001?sold_to=C-1002",
    "SO-100001#x",
    "-leading-dash",
    "a" * 65,
    "x" * 20_000,
    "SO-10\u00e90",
    "SO-1\x00",
    "SO 100001",
]

QUERIES = {
    "order": ("query($v: ID!) { order(id: $v) { id status } }", "order"),
    "invoice": ("query($v: ID!) { invoice(id: $v) { id } }", "invoice"),
    "return": ("query($v: ID!) { returnAuthorization(id: $v) { id } }", "returnAuthorization"),
    "shipment": ("query($v: String!) { shipment(trackingNumber: $v) { status } }", "shipment"),
    "inventory": ("query($v: String!) { inventory(sku: $v) { positions { bin } } }", "inventory"),
    "warehouse": (
        'query($v: String) { inventory(sku: "MAT-0001", warehouseId: $v) { positions { bin } } }',
        "inventory",
    ),
}


def post(gateway: RunningGateway, query: str, variables: dict, tenant: str = "C-1001") -> dict:
    response = httpx.post(
        gateway.graphql_url(),
        json={"query": query, "variables": variables},
        headers={"X-API-Key": gateway.api_key(tenant)},
        timeout=30.0,
    )
    assert response.status_code == 200, response.text
    return response.json()


def backend_calls(sandbox: Sandbox) -> list[str]:
    calls = []
    for backend in sandbox.urls():
        for request in sandbox.requests(backend):
            if not polled(backend, request):
                calls.append(f"{backend} {request['method']} {request['path']}?{request['query']}")
    return calls


@pytest.fixture(scope="module")
def gateway(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    # what pollers ask of the backends (this gateway's, and the session's other gateway's) is
    # told apart by `polled`; this one polls to fill its orders read model
    with running_gateway(sandbox, tmp_path_factory.mktemp("portal-inputs")) as running:
        # the first reads of every feed write the most: let them finish before the tests read
        # the log for tracebacks
        wait_for_orders(running.graphql_url(), running.api_key("C-1001"))
        yield running


@pytest.fixture
def quiet_backends(gateway: RunningGateway, sandbox: Sandbox) -> Iterator[Sandbox]:
    sandbox.reset_faults()
    sandbox.clear_requests()
    yield sandbox


@pytest.mark.parametrize("field", sorted(QUERIES))
def test_a_malformed_key_is_the_callers_error_and_no_backend_is_called(
    gateway: RunningGateway, quiet_backends: Sandbox, field: str
):
    query, root = QUERIES[field]
    log_start = gateway.log.stat().st_size
    for key in MALFORMED_KEYS:
        answer = post(gateway, query, {"v": key})
        assert answer["data"] is None or answer["data"][root] is None, (key, answer)
        (error,) = answer["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (key, error)
        assert "not a valid identifier" in error["message"], (key, error)
        if len(key) > 3:
            assert key not in error["message"], "the input is not echoed back"
    assert backend_calls(quiet_backends) == [], "a malformed key reached a backend"
    written = gateway.log.read_text(errors="replace")[log_start:]
    assert "Traceback" not in written, written[-2000:]


@pytest.mark.parametrize(
    ("query", "root"),
    [
        ("{ orders(first: 0) { nextCursor } }", "orders"),
        ("{ returns(first: 0) { nextCursor } }", "returns"),
        ("{ returns(first: 101) { nextCursor } }", "returns"),
        ("{ orders(first: 101) { nextCursor } }", "orders"),
        ("{ orders(first: -5) { nextCursor } }", "orders"),
        ('{ inventory(sku: "MAT-0001", first: 0) { nextCursor } }', "inventory"),
        ('{ inventory(sku: "MAT-0001", first: 100000) { nextCursor } }', "inventory"),
    ],
)
def test_a_page_size_out_of_bounds_is_refused_not_clamped(
    gateway: RunningGateway, quiet_backends: Sandbox, query: str, root: str
):
    answer = post(gateway, query, {})
    assert answer["data"] is None or answer["data"][root] is None, answer
    (error,) = answer["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "between 1 and" in error["message"]
    assert backend_calls(quiet_backends) == []


def test_another_tenants_order_answers_exactly_like_a_missing_one(
    gateway: RunningGateway, quiet_backends: Sandbox
):
    theirs = wait_for_orders(gateway.graphql_url(), gateway.api_key("C-1002"))[0]
    assert wait_for_orders(gateway.graphql_url(), gateway.api_key("C-1001")), "both are held"
    query = "query($v: ID!) { order(id: $v) { id status shipments { trackingNumber } } }"
    foreign = post(gateway, query, {"v": theirs})
    missing = post(gateway, query, {"v": "SO-999999"})
    assert foreign == missing == {"data": {"order": None}}


def test_a_well_formed_key_still_reaches_the_backend(
    gateway: RunningGateway, quiet_backends: Sandbox
):
    started = time.monotonic()
    answer = post(gateway, "query($v: ID!) { invoice(id: $v) { id } }", {"v": "INV-999999"})
    assert answer == {"data": {"invoice": None}}
    calls = backend_calls(quiet_backends)
    assert any(call.startswith("erp GET /api/v1/invoices/INV-999999") for call in calls), calls
    assert time.monotonic() - started < 10
