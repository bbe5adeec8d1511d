"""The response cache shared on Redis by two gateway processes (one PostgreSQL database and
one JetStream event log between them): what one process kept, the other serves; a delivery
told to one purges the answers the other serves, at once."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.conftest import fresh_postgres_database
from tests.gateway.conftest import (
    READ_MODEL_WAIT_S,
    RunningGateway,
    gateway_process,
    wait_for_orders,
    write_config,
)
from tests.gateway.test_end_to_end import (
    first_order_with_carrier,
    post_webhook,
    swift_body,
    swift_signature,
)
from tests.sandbox_processes import Sandbox, free_port

ORDER_INVOICES = "query($id: ID!) { order(id: $id) { id invoices { id } } }"
SHIPMENT = "query($t: String!) { shipment(trackingNumber: $t) { milestones { carrierCode } } }"


@pytest.fixture(scope="module")
def gateways(
    sandbox: Sandbox, redis_url: str, nats_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningGateway, RunningGateway]]:
    deployment = f"cache{uuid.uuid4().hex[:8]}"
    with fresh_postgres_database() as database, ExitStack() as stack:
        stores = (
            f'database_url = "{database}"\nevent_log = "{nats_url}"\n'
            f'event_stream = "{deployment}"\nevent_subject_prefix = "{deployment}"\n'
            f'cache = "{redis_url}"\ncache_namespace = "{deployment}"'
        )
        extra = "[cache]\nenabled = true\ntypes = { Shipment = 600, Order = 600, Invoice = 600 }\n"
        running = []
        for name in ("first", "second"):
            directory = tmp_path_factory.mktemp(f"cache-{name}")
            port = free_port()
            config = directory / "gateway.toml"
            write_config(
                config, sandbox, port, directory / "unused.sqlite3", stores=stores, extra=extra
            )
            running.append(stack.enter_context(gateway_process(config, port)))
        wait_for_orders(running[0].graphql_url(), running[0].api_key("C-1001"))
        yield running[0], running[1]


def post(gateway: RunningGateway, query: str, tenant: str = "C-1001", **variables: Any) -> Any:
    response = httpx.post(
        gateway.graphql_url(),
        json={"query": query, "variables": variables},
        headers={"X-API-Key": gateway.api_key(tenant)},
        timeout=30.0,
    )
    assert response.status_code == 200, response.text
    return response.json()


def invoice_listings(sandbox: Sandbox, order_id: str) -> int:
    return sum(
        1
        for r in sandbox.requests("erp")
        if r["path"] == "/api/v1/invoices" and f"sales_doc={order_id}" in r["query"]
    )


def test_an_answer_kept_by_one_process_is_served_by_the_other(gateways, sandbox):
    first, second = gateways
    order_id = wait_for_orders(first.graphql_url(), first.api_key("C-1001"), at_least=3)[2]
    before = invoice_listings(sandbox, order_id)
    kept = post(first, ORDER_INVOICES, id=order_id)
    assert "errors" not in kept, kept
    assert post(second, ORDER_INVOICES, id=order_id) == kept
    assert invoice_listings(sandbox, order_id) == before + 1
    assert post(second, ORDER_INVOICES, "C-1002", id=order_id)["data"]["order"] is None
    assert post(second, "{ me { id } }", "C-1002")["data"]["me"]["id"] == "C-1002"
    assert post(first, "{ me { id } }", "C-1001")["data"]["me"]["id"] == "C-1001"


async def test_a_delivery_told_to_one_process_purges_what_the_other_serves(gateways, sandbox):
    first, second = gateways
    found = await first_order_with_carrier(first, "C-1001", "SWFT", delivered=True, sandbox=sandbox)
    tracking = found["tracking"]
    before = post(first, SHIPMENT, t=tracking)["data"]["shipment"]["milestones"]
    assert post(second, SHIPMENT, t=tracking)["data"]["shipment"]["milestones"] == before
    body = swift_body(tracking, "DL", datetime.now(UTC), f"shared-{uuid.uuid4().hex}")
    headers = {"X-Swift-Signature": swift_signature(body), "content-type": "application/json"}
    assert (await post_webhook(second, "swiftparcel", body, headers)).status_code == 202
    deadline = time.monotonic() + READ_MODEL_WAIT_S  # far within the 600 s the answer may live
    while len(post(first, SHIPMENT, t=tracking)["data"]["shipment"]["milestones"]) == len(before):
        assert time.monotonic() < deadline, "the shared answer was never purged"
        await asyncio.sleep(0.2)
