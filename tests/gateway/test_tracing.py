"""Traces of the product app, exported over OTLP/HTTP to a real receiver on loopback.

One GraphQL query through the gateway app (in process) whose in-process subgraph calls the
reference ERP (a process): the receiver must get one trace, continuing the caller's, with the
request, the operation, its plan, the subgraph fetch and the backend call as parent and
child, each with the request's correlation id, and the ERP must have received that trace's
`traceparent` naming the backend call's span as its parent.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import GatewayConfig
from tests.otlp_receiver import ReceivedSpan, Receiver, otlp_receiver
from tests.sandbox_processes import Sandbox
from tests.security.signed_webhooks import SECRETS, signed

PORTAL_KEY = "tracing-portal-key-0123456"
SERVER, CLIENT, INTERNAL = 2, 3, 1
"""`Span.SpanKind` numbers of the OTLP protobuf."""


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with otlp_receiver() as running:
        yield running


def tracing_config(
    directory: Path, sandbox: Sandbox, receiver: Receiver, ratio: float
) -> GatewayConfig:
    return GatewayConfig.model_validate(
        {
            "stores": {"database_url": f"sqlite+aiosqlite:///{directory / 'gateway.sqlite3'}"},
            "polling": {"enabled": False},
            "backends": {
                name: {"url": url, "timeout_s": 2.0, "max_retries": 0}
                for name, url in sandbox.urls().items()
            },
            "webhooks": {
                "wms_secret": SECRETS["wms"],
                "swiftparcel_secret": SECRETS["swiftparcel"],
                "heritage_password": SECRETS["heritage"],
            },
            "clients": {
                "portal": {
                    "tenant": "C-1001",
                    "api_key_sha256": hashlib.sha256(PORTAL_KEY.encode()).hexdigest(),
                }
            },
            "tracing": {
                "otlp_endpoint": receiver.url,
                "service_name": "gateway-under-test",
                "sample_ratio": ratio,
                "export_delay_s": 0.05,
            },
        }
    )


@pytest.fixture(scope="module")
def traced(
    tmp_path_factory: pytest.TempPathFactory, sandbox: Sandbox, receiver: Receiver
) -> Iterator[TestClient]:
    config = tracing_config(tmp_path_factory.mktemp("tracing"), sandbox, receiver, 1.0)
    with TestClient(create_app(config)) as client:
        yield client


def only(spans: list[ReceivedSpan], name: str) -> ReceivedSpan:
    found = [span for span in spans if span.name == name]
    assert len(found) == 1, f"{len(found)} spans named {name!r} in {[s.name for s in spans]}"
    return found[0]


def test_a_query_is_one_trace_from_the_caller_to_the_backend(
    traced: TestClient, receiver: Receiver, sandbox: Sandbox
) -> None:
    sandbox.clear_requests("erp")
    trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    answer = traced.post(
        "/graphql",
        json={"query": "query WhoAmI { me { name } }"},
        headers={
            "x-api-key": PORTAL_KEY,
            "traceparent": f"00-{trace_id}-{caller_span}-01",
            "x-correlation-id": "trace-test-1",
        },
    )
    assert answer.status_code == 200 and answer.json()["data"]["me"]["name"], answer.text
    names = {"POST /graphql", "query WhoAmI", "graphql.plan", "fetch orders", "erp get customer"}
    spans = receiver.wait_for(trace_id, names)
    assert names <= {span.name for span in spans}, [span.name for span in spans]

    request = only(spans, "POST /graphql")
    operation = only(spans, "query WhoAmI")
    plan = only(spans, "graphql.plan")
    fetch = only(spans, "fetch orders")
    backend = only(spans, "erp get customer")
    assert (request.kind, request.parent_span_id) == (SERVER, caller_span)
    assert operation.parent_span_id == request.span_id
    assert plan.parent_span_id == operation.span_id
    assert (fetch.kind, fetch.parent_span_id) == (CLIENT, operation.span_id)
    assert (backend.kind, backend.parent_span_id) == (CLIENT, fetch.span_id)
    assert request.attributes["http.route"] == "/graphql"
    assert request.attributes["http.response.status_code"] == 200
    assert operation.attributes["graphql.operation.name"] == "WhoAmI"
    assert operation.attributes["graphql.plan.cached"] is False
    assert fetch.attributes["graphql.subgraph.name"] == "orders"
    assert backend.attributes["backend.name"] == "erp"
    assert backend.attributes["http.response.status_code"] == 200
    assert all(span.attributes.get("correlation.id") == "trace-test-1" for span in spans), [
        (span.name, span.attributes.get("correlation.id")) for span in spans
    ]
    assert {span.service for span in spans} == {"gateway-under-test"}

    received = [r.get("traceparent", "") for r in sandbox.requests("erp")]
    assert f"00-{trace_id}-{backend.span_id}-01" in received, received

    again = secrets.token_hex(16)
    headers = {"x-api-key": PORTAL_KEY, "traceparent": f"00-{again}-{caller_span}-01"}
    traced.post("/graphql", json={"query": "query WhoAmI { me { name } }"}, headers=headers)
    spans = receiver.wait_for(again, names - {"graphql.plan"})
    assert "graphql.plan" not in {span.name for span in spans}, "a cached plan is no span"
    assert only(spans, "query WhoAmI").attributes["graphql.plan.cached"] is True


def test_a_request_without_a_traceparent_starts_a_trace_of_its_own(
    traced: TestClient, receiver: Receiver
) -> None:
    answer = traced.post(
        "/graphql",
        json={"query": "query Again { me { name } }"},
        headers={"x-api-key": PORTAL_KEY, "traceparent": "00-" + "0" * 32 + "-" + "0" * 16 + "-01"},
    )
    assert answer.status_code == 200
    correlation_id = answer.headers["x-correlation-id"]
    operation = receiver.first(
        lambda span: (
            span.name == "query Again" and span.attributes.get("correlation.id") == correlation_id
        )
    )
    assert operation is not None
    assert operation.trace_id != "0" * 32
    spans = receiver.wait_for(operation.trace_id, {"POST /graphql", "graphql.plan"})
    request = only(spans, "POST /graphql")
    assert request.parent_span_id == "", "a malformed traceparent must not become a parent"
    assert only(spans, "graphql.plan").parent_span_id == operation.span_id


def test_a_webhook_is_traced_with_its_source(traced: TestClient, receiver: Receiver) -> None:
    trace_id = secrets.token_hex(16)
    body = (
        b'{"type": "shipment.dispatched", "event_id": "trace-e1", "occurred_at": '
        b'"2026-11-20T08:03:00-06:00", "data": {"order_ref": "SO-1", "tracking_number": '
        b'"TTRACE1", "carrier": "SWFT"}}'
    )
    headers = {**signed("wms", body), "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
    assert traced.post("/webhooks/wms", content=body, headers=headers).status_code == 202
    spans = receiver.wait_for(trace_id, {"POST /webhooks/{source}", "webhook ingest"})
    request = only(spans, "POST /webhooks/{source}")
    ingest = only(spans, "webhook ingest")
    assert ingest.parent_span_id == request.span_id
    assert ingest.attributes["webhook.source"] == "wms"
    assert ingest.attributes["http.response.status_code"] == 202
    assert request.attributes.get("correlation.id")


def test_a_backend_call_outside_any_request_is_a_trace_with_its_own_correlation_id(
    traced: TestClient, receiver: Receiver, sandbox: Sandbox
) -> None:
    runtime = traced.app_state["runtime"]
    sandbox.clear_requests("erp")

    async def list_customers() -> None:
        await runtime.clients.erp.customers_page(limit=1)

    traced.portal.call(list_customers)
    span = receiver.first(lambda span: span.name == "erp list customers")
    assert span is not None
    assert (span.kind, span.parent_span_id) == (CLIENT, ""), "a poller's call starts a trace"
    assert span.attributes["correlation.id"], "the id the call sent names its span"
    received = [r.get("traceparent", "") for r in sandbox.requests("erp")]
    assert any(span.trace_id in traceparent for traceparent in received), received


def test_an_unsampled_request_records_nothing_and_still_tells_the_backend(
    tmp_path: Path, sandbox: Sandbox, receiver: Receiver
) -> None:
    sandbox.clear_requests("erp")
    with TestClient(create_app(tracing_config(tmp_path, sandbox, receiver, 0.0))) as client:
        answer = client.post(
            "/graphql",
            json={"query": "query Unsampled { me { name } }"},
            headers={"x-api-key": PORTAL_KEY, "x-correlation-id": "unsampled-1"},
        )
    assert answer.status_code == 200 and answer.json()["data"]["me"]["name"]
    # other gateways of the test session call the shared ERP too, untraced: keep traced calls
    received = [r["traceparent"] for r in sandbox.requests("erp") if r.get("traceparent")]
    sampled = [int(value.rsplit("-", 1)[1], 16) & 1 for value in received]
    assert received and sampled == [0] * len(received), f"sent unsampled: {received}"
    assert receiver.first(lambda span: span.name == "query Unsampled", timeout_s=0.5) is None
    assert not [s for s in receiver.spans if s.attributes.get("correlation.id") == "unsampled-1"]
