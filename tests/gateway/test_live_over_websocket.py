"""Live shipment updates through a real gateway process over graphql-transport-ws: carrier
webhooks in, each milestone out once and in rank order, the shipment's other fields resolved
from the shipments subgraph per event, and a reconnecting client resumed without gap."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect

from domain.shipments import MilestoneStatus, progress_rank
from tests.gateway.conftest import RunningGateway
from tests.gateway.test_end_to_end import (
    first_order_with_carrier,
    post_webhook,
    swift_body,
    swift_signature,
)

PROTOCOL = "graphql-transport-ws"
WAIT_S = 15.0
UPDATES = """subscription($tn: String!) {
  shipmentUpdated(trackingNumber: $tn) {
    eventId status milestone { status carrierCode occurredAt }
    shipment { trackingNumber carrier }
  }
}"""


async def opened(
    gateway: RunningGateway, tenant: str, init: dict[str, Any] | None = None
) -> ClientConnection:
    socket = await connect(
        gateway.graphql_url().replace("http://", "ws://", 1),
        subprotocols=[PROTOCOL],  # type: ignore[list-item]
        additional_headers={"X-API-Key": gateway.api_key(tenant)},
    )
    await socket.send(orjson.dumps({"type": "connection_init", "payload": init or {}}).decode())
    assert await receive(socket) == {"type": "connection_ack"}
    return socket


async def receive(socket: ClientConnection, wait_s: float = WAIT_S) -> dict[str, Any]:
    """The next message other than the server's heartbeat pings (each answered with a pong)."""
    while True:
        message = orjson.loads(await asyncio.wait_for(socket.recv(), wait_s))
        if message.get("type") != "ping":
            return message
        await socket.send(orjson.dumps({"type": "pong"}).decode())


async def subscribe(socket: ClientConnection, tracking: str) -> None:
    message = {
        "id": "1",
        "type": "subscribe",
        "payload": {"query": UPDATES, "variables": {"tn": tracking}},
    }
    await socket.send(orjson.dumps(message).decode())


async def carrier_event(
    gateway: RunningGateway, tracking: str, code: str, at: datetime, event_id: str
):
    body = swift_body(tracking, code, at, event_id)
    headers = {"X-Swift-Signature": swift_signature(body), "content-type": "application/json"}
    response = await post_webhook(gateway, "swiftparcel", body, headers)
    assert response.status_code == 202, response.text


async def listening(
    gateway: RunningGateway, socket: ClientConnection, tracking: str, start: datetime
) -> str:
    """Sends manifest events (each new) until one comes back: from then on the subscription is
    certainly listening. Returns that event's id."""
    for attempt in range(20):
        await carrier_event(
            gateway, tracking, "MR", start - timedelta(minutes=attempt), f"warm-{uuid.uuid4().hex}"
        )
        try:
            message = await receive(socket, 1.0)
        except TimeoutError:
            continue
        assert message["type"] == "next", message
        return message["payload"]["extensions"]["eventId"]
    pytest.fail("the subscription never started listening")


async def updates_until(
    socket: ClientConnection, codes: set[str], count: int
) -> list[dict[str, Any]]:
    """The next updates whose milestone is one of `codes` (manifest warm-ups skipped)."""
    found: list[dict[str, Any]] = []
    while len(found) < count:
        message = await receive(socket)
        assert message["type"] == "next", message
        payload = message["payload"]
        assert "errors" not in payload, payload
        update = payload["data"]["shipmentUpdated"]
        assert payload["extensions"]["eventId"] == update["eventId"]
        if update["milestone"]["carrierCode"] in codes:
            found.append(update)
    return found


async def test_each_milestone_once_in_rank_order_then_a_resume_without_gap(gateway, sandbox):
    found = await first_order_with_carrier(
        gateway, "C-1001", "SWFT", delivered=True, sandbox=sandbox
    )
    tracking = found["tracking"]
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    socket = await opened(gateway, "C-1001")
    try:
        await subscribe(socket, tracking)
        seen = await listening(gateway, socket, tracking, start)
        ours = f"live-{uuid.uuid4().hex[:8]}"
        sequence = [
            ("IT", start, f"{ours}-it"),
            ("IT", start, f"{ours}-it"),  # a duplicate delivery
            ("DL", start + timedelta(hours=5), f"{ours}-dl"),
            ("OD", start + timedelta(hours=3), f"{ours}-od"),  # late and lower-ranked
        ]
        for code, at, event_id in sequence:
            await carrier_event(gateway, tracking, code, at, event_id)
        updates = await updates_until(socket, {"IT", "DL", "OD"}, 3)
    finally:
        await socket.close()
    assert [u["milestone"]["carrierCode"] for u in updates] == ["IT", "DL", "OD"]
    ranks = [progress_rank(MilestoneStatus(u["status"])) for u in updates]
    assert ranks == sorted(ranks), "the status never goes backwards"
    assert updates[-1]["status"] == "DELIVERED"
    assert all(u["shipment"] == {"trackingNumber": tracking, "carrier": "SWFT"} for u in updates)

    resumed = await opened(gateway, "C-1001", {"lastEventId": seen})
    try:
        await subscribe(resumed, tracking)
        replayed = await updates_until(resumed, {"IT", "DL", "OD"}, 3)
    finally:
        await resumed.close()
    assert [u["eventId"] for u in replayed] == [u["eventId"] for u in updates]


async def test_another_tenants_shipment_is_not_found_over_the_socket(gateway):
    found = await first_order_with_carrier(gateway, "C-1001", "SWFT")
    socket = await opened(gateway, "C-1002")
    try:
        await subscribe(socket, found["tracking"])
        message = await receive(socket)
    finally:
        await socket.close()
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "NOT_FOUND"
    assert message["type"] == "error" or message["payload"]["data"] is None
    assert found["tracking"] in errors[0]["message"]
