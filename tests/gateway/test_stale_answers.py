"""Answers from the read models while their backends are away, and what they say about it.

A gateway process of its own (short freshness windows for the ERP and the TMS, feeds polled
each second) in front of the session's reference backends: with the ERP in its maintenance
window and the TMS in an outage, the portal's orders, an order by id and a shipment still
answer, from the read models, and say `stale: true` once a window has passed; when the
backends are back, the next completed poll rounds make them fresh again.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gateway.conftest import (
    READ_MODEL_WAIT_S,
    RunningGateway,
    gateway_process,
    wait_for_orders,
    write_config,
)
from tests.gateway.test_end_to_end import swift_body, swift_signature
from tests.sandbox_processes import Sandbox, free_port

WINDOW_S = 3
RECOVERY_WAIT_S = 75.0
"""The ERP answers its maintenance 503 with Retry-After: 30, which the order feed honours."""

FRESHNESS = f"""
[freshness]
erp_window_s = {WINDOW_S}
tms_window_s = {WINDOW_S}
"""


@pytest.fixture(scope="module")
def gateway(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    directory: Path = tmp_path_factory.mktemp("stale-answers")
    port = free_port()
    config = directory / "gateway.toml"
    write_config(
        config, sandbox, port, directory / "gateway.sqlite3", extra=FRESHNESS, poll_interval_s=1.0
    )
    with gateway_process(config, port) as running:
        yield running


def ask(gateway: RunningGateway, query: str, **variables: Any) -> dict[str, Any]:
    response = httpx.post(
        gateway.graphql_url(),
        json={"query": query, "variables": variables},
        headers={"X-API-Key": gateway.api_key("C-1001")},
        timeout=30.0,
    )
    assert response.status_code == 200, response.text
    return response.json()


def until(
    gateway: RunningGateway,
    query: str,
    holds: Callable[[dict[str, Any]], bool],
    wait_s: float = READ_MODEL_WAIT_S,
    **variables: Any,
) -> dict[str, Any]:
    deadline = time.monotonic() + wait_s
    while True:
        answer = ask(gateway, query, **variables)
        if holds(answer):
            return answer
        assert time.monotonic() < deadline, f"never held: {answer}"
        time.sleep(0.25)


ORDERS = (
    "{ orders(first: 20) { orders { id status asOf stale "
    "shipments { trackingNumber carrier status } } } }"
)
ORDER = "query($id: ID!) { order(id: $id) { id status asOf stale } }"
SHIPMENT = (
    "query($t: String!) { shipment(trackingNumber: $t) { trackingNumber status asOf stale } }"
)


def parcel_shipment(answer: dict[str, Any]) -> tuple[str, str] | None:
    """(order id, tracking number) of a SwiftParcel shipment on the page that the carrier has
    reported on (a parcel it never reported has no status to keep through an outage)."""
    for order in answer["data"]["orders"]["orders"]:
        for shipment in order["shipments"] or ():
            if shipment["carrier"] == "SWFT" and shipment["status"] is not None:
                return order["id"], shipment["trackingNumber"]
    return None


def swiftparcel_pushes(gateway: RunningGateway) -> None:
    """SwiftParcel only pushes: one accepted delivery (of another parcel) is hearing from it."""
    body = swift_body(
        f"SP{uuid.uuid4().int % 10**10:010d}", "IT", datetime.now(UTC), uuid.uuid4().hex
    )
    answer = httpx.post(
        gateway.webhook_url("swiftparcel"),
        content=body,
        headers={"X-Swift-Signature": swift_signature(body)},
        timeout=10.0,
    )
    assert answer.status_code == 202, answer.text


def test_with_the_erp_in_maintenance_and_the_tms_out_answers_stand_and_say_they_are_stale(
    gateway: RunningGateway, clean_faults: Sandbox
) -> None:
    wait_for_orders(gateway.graphql_url(), gateway.api_key("C-1001"), at_least=20)
    listing = until(gateway, ORDERS, lambda a: parcel_shipment(a) is not None)
    order_id, tracking = parcel_shipment(listing)  # type: ignore[misc]
    swiftparcel_pushes(gateway)
    until(gateway, SHIPMENT, lambda a: a["data"]["shipment"]["stale"] is False, t=tracking)
    fresh_order = ask(gateway, ORDER, id=order_id)["data"]["order"]
    assert fresh_order["stale"] is False and fresh_order["asOf"], fresh_order

    clean_faults.set_faults("erp", maintenance=True)
    clean_faults.set_faults("tms", outage=True)
    stale_order = until(gateway, ORDER, lambda a: a["data"]["order"]["stale"], id=order_id)
    assert "errors" not in stale_order, stale_order
    held = stale_order["data"]["order"]
    assert (held["id"], held["status"]) == (order_id, fresh_order["status"])
    silent_for = datetime.now(UTC) - datetime.fromisoformat(held["asOf"])
    assert silent_for.total_seconds() > WINDOW_S, held

    page = ask(gateway, ORDERS)
    assert "errors" not in page, page
    orders = page["data"]["orders"]["orders"]
    # the newest 20 (which need not hold `order_id`: orders created by other tests may still
    # be arriving through the change feed), every one from the read model and stale
    assert len(orders) == 20 and all(order["stale"] for order in orders), orders
    shipment = until(gateway, SHIPMENT, lambda a: a["data"]["shipment"]["stale"], t=tracking)
    assert "errors" not in shipment, shipment
    assert shipment["data"]["shipment"]["trackingNumber"] == tracking
    # its status as the read models hold it (the carrier's history, still being read from the
    # carrier, which is up, may have moved it on since)
    assert shipment["data"]["shipment"]["status"] is not None

    clean_faults.reset_faults("erp", "tms")
    swiftparcel_pushes(gateway)
    fresh_again = until(
        gateway, ORDER, lambda a: a["data"]["order"]["stale"] is False, RECOVERY_WAIT_S, id=order_id
    )["data"]["order"]
    assert datetime.fromisoformat(fresh_again["asOf"]) > datetime.fromisoformat(held["asOf"])
    until(
        gateway,
        SHIPMENT,
        lambda a: a["data"]["shipment"]["stale"] is False,
        RECOVERY_WAIT_S,
        t=tracking,
    )
    assert not any(order["stale"] for order in ask(gateway, ORDERS)["data"]["orders"]["orders"])
