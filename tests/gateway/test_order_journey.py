"""One order's whole journey through a real gateway process and the reference backends, on
both event-log engines.

The ERP releases an order; the gateway hears it through the ERP's change feed and runs
order-to-ship (reservation, pick, pack, rate, tender, book, label, dispatch, goods issue).
The carrier then reports milestones, one of them twice and one late and out of order, while a
WebSocket, an SSE and a multipart subscriber each receive every milestone once, the status
never going backwards. The ERP goes into its maintenance window before the delivery, so the
invoice waits; the gateway is killed (SIGKILL) while it waits and started again; once the
window ends the invoice is posted, once. Subscribers that come back with the id of the last
event they saw receive what they missed, without gap or duplicate. The portal ends showing the
order invoiced and the shipment delivered, each milestone once.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
import orjson
import pytest

from domain.shipments import MilestoneStatus, progress_rank
from tests.federation.test_streaming_http import MULTIPART, SSE, MultipartReader, read_sse
from tests.gateway.conftest import (
    API_KEYS,
    WEBHOOK_SECRETS,
    RunningGateway,
    gateway_process,
    write_config,
)
from tests.gateway.test_end_to_end import graphql
from tests.gateway.test_live_over_websocket import opened, receive
from tests.sandbox_processes import Sandbox, free_port, started_sandbox
from tests.shipped_orders import _erp, shipped_order

pytestmark = [pytest.mark.services, pytest.mark.sandbox]

MATERIAL = "MAT-0001"
WAIT_S = 90.0
LEASE_TTL_S = 2.0
"""How soon the restarted gateway takes over what the killed one held (feeds, projections,
workflows)."""
UPDATES = """subscription($tn: String!) {
  shipmentUpdated(trackingNumber: $tn) {
    eventId status milestone { carrierCode occurredAt } shipment { trackingNumber carrier }
  }
}"""
WORKFLOW = "query($id: ID!) { workflow(id: $id) { state reason steps { name state } } }"
PORTAL = """query($id: ID!) { order(id: $id) {
  status invoices { id }
  shipments { trackingNumber status milestones { carrierCode occurredAt } }
} }"""


@pytest.fixture(scope="module")
def own_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """Backends of its own: workflows write to them (reservations, picks, goods issues)."""
    with started_sandbox(tmp_path_factory.mktemp("journey-sandbox")) as started:
        yield started


@pytest.fixture(params=["sql", "jetstream"])
def event_log(request: pytest.FixtureRequest) -> Iterator[str]:
    """The `[stores]` lines of the engine; a JetStream stream of its own, deleted afterwards."""
    if request.param == "sql":
        yield 'event_log = "sql"'
        return
    nats_url = request.getfixturevalue("nats_url")
    stream = f"JOURNEY_{uuid.uuid4().hex[:10].upper()}"
    yield (
        f'event_log = "{nats_url}"\nevent_stream = "{stream}"\n'
        f'event_subject_prefix = "journey.{stream.lower()}"'
    )

    async def delete() -> None:
        client = await nats.connect(nats_url)
        try:
            await client.jetstream().delete_stream(stream)
        finally:
            await client.close()

    asyncio.run(delete())


async def eventually(
    ask: Callable[[], Awaitable[Any]], done: Callable[[Any], bool], what: str
) -> Any:
    deadline = time.monotonic() + WAIT_S
    while True:
        answer = await ask()
        if done(answer):
            return answer
        if time.monotonic() > deadline:
            pytest.fail(f"{what} never happened; last answer: {answer}")
        await asyncio.sleep(0.25)


async def workflow(gateway: RunningGateway, workflow_id: str) -> dict[str, Any] | None:
    return (await graphql(gateway, WORKFLOW, {"id": workflow_id}))["data"]["workflow"]


async def admin_view(gateway: RunningGateway, workflow_id: str) -> dict[str, Any] | None:
    """The operator's view of a workflow (the admin API), None while there is none."""
    async with httpx.AsyncClient(timeout=30.0) as client:
        answer = await client.get(
            f"{gateway.url}/admin/workflows/{workflow_id}",
            headers={"X-API-Key": API_KEYS["ops"]},
        )
    if answer.status_code == 404:
        return None
    assert answer.status_code == 200, answer.text
    return answer.json()


async def tracking_of(gateway: RunningGateway, workflow_id: str) -> str:
    view = await admin_view(gateway, workflow_id)
    assert view is not None
    steps = {step["step"]: step for step in view["steps"]}
    return str(steps["label"]["result"]["tracking_number"])


class Updates:
    """What one subscriber received: each milestone update of the shipment, in arrival order."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.received: list[dict[str, Any]] = []
        self.listening = False
        """A warm-up manifest (MR) came: the subscription is certainly live."""

    def add(self, update: dict[str, Any]) -> None:
        """Milestones only (the shipment's other changes, booked or dispatched, come too), the
        warm-up manifests left out."""
        milestone = update["milestone"]
        if milestone is None:
            return
        if milestone["carrierCode"] == "MR":
            self.listening = True
            return
        self.received.append(update)

    def ids(self) -> list[str]:
        return [update["eventId"] for update in self.received]

    def codes(self) -> list[str]:
        return [update["milestone"]["carrierCode"] for update in self.received]

    async def until(self, count: int) -> None:
        deadline = time.monotonic() + WAIT_S
        while len(self.received) < count:
            if time.monotonic() > deadline:
                pytest.fail(f"{self.name} received {self.codes()}, expected {count} updates")
            await asyncio.sleep(0.05)


async def over_websocket(
    gateway: RunningGateway, tracking: str, updates: Updates, after: str | None = None
) -> None:
    socket = await opened(gateway, "C-1001", {"lastEventId": after} if after else None)
    try:
        message = {
            "id": "1",
            "type": "subscribe",
            "payload": {"query": UPDATES, "variables": {"tn": tracking}},
        }
        await socket.send(orjson.dumps(message).decode())
        while True:
            message = await receive(socket, WAIT_S)
            if message["type"] != "next":
                return
            assert "errors" not in message["payload"], message
            updates.add(message["payload"]["data"]["shipmentUpdated"])
    finally:
        await socket.close()


async def over_sse(
    gateway: RunningGateway, tracking: str, updates: Updates, after: str | None = None
) -> None:
    headers = {**SSE, "X-API-Key": API_KEYS["C-1001"]}
    if after:
        headers["Last-Event-ID"] = after
    body = {"query": UPDATES, "variables": {"tn": tracking}}
    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(30.0, read=None)) as client,
        client.stream("POST", gateway.graphql_url(), json=body, headers=headers) as answer,
    ):
        assert answer.status_code == 200
        lines = answer.aiter_lines()
        while True:
            stream = await read_sse(lines, stop_after=1)
            if not stream.events or stream.events[0].event != "next":
                return
            payload = stream.events[0].json()
            assert "errors" not in payload, payload
            updates.add(payload["data"]["shipmentUpdated"])


async def over_multipart(gateway: RunningGateway, tracking: str, updates: Updates) -> None:
    headers = {**MULTIPART, "X-API-Key": API_KEYS["C-1001"]}
    body = {"query": UPDATES, "variables": {"tn": tracking}}
    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(30.0, read=None)) as client,
        client.stream("POST", gateway.graphql_url(), json=body, headers=headers) as answer,
    ):
        assert answer.status_code == 200
        reader = MultipartReader(answer)
        while True:
            parts = await reader.read(stop_after=1)
            if not parts or parts[0] == "END":
                return
            part = parts[0]
            if "payload" not in part:
                continue  # a heartbeat
            assert not part["payload"].get("errors"), part
            updates.add(part["payload"]["data"]["shipmentUpdated"])


@asynccontextmanager
async def subscribed(
    listeners: dict[str, Callable[[Updates], Awaitable[None]]],
) -> AsyncIterator[dict[str, Updates]]:
    """Each listener running in the background with its own `Updates`, stopped on exit."""
    collected = {name: Updates(name) for name in listeners}
    tasks = [asyncio.create_task(listen(collected[name])) for name, listen in listeners.items()]
    try:
        yield collected
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError, httpx.HTTPError, OSError):
                await task


async def emit(sandbox: Sandbox, tracking: str, code: str, at: datetime) -> None:
    await sandbox.aemit("swiftparcel", tracking, code, at.isoformat())


async def all_listening(
    sandbox: Sandbox, tracking: str, live: dict[str, Updates], before: datetime
) -> None:
    """Manifest scans (each new, each earlier than `before`) until every subscriber got one."""
    for attempt in range(1, 31):
        await emit(sandbox, tracking, "MR", before - timedelta(minutes=attempt))
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            if all(updates.listening for updates in live.values()):
                return
            await asyncio.sleep(0.05)
    pytest.fail(f"not listening: {[n for n, u in live.items() if not u.listening]}")


async def erp_invoices(sandbox: Sandbox, order_id: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=30.0) as client:
        answer = await _erp(client, sandbox, "GET", f"/api/v1/invoices?sales_doc={order_id}")
    return list(answer["records"])


def journey_config(directory: Path, sandbox: Sandbox, event_log: str) -> tuple[Path, int]:
    """Workflows on from now: the seeded backlog of released orders starts none."""
    port = free_port()
    since = datetime.now(UTC).replace(microsecond=0)
    config = directory / "gateway.toml"
    write_config(
        config,
        sandbox,
        port,
        directory / "gateway.sqlite3",
        stores=f'database_url = "sqlite+aiosqlite:///{directory / "gateway.sqlite3"}"\n'
        + event_log,
        extra="[workflows]\nenabled = true\nretry_initial_s = 0.2\nretry_max_s = 1.0\n"
        f"poll_s = 0.2\nlease_ttl_s = {LEASE_TTL_S}\nsince = {since.isoformat()}\n",
        backend_timeout_s=5.0,
        lease_ttl_s=LEASE_TTL_S,
        poll_interval_s=1.0,
    )
    return config, port


async def test_an_order_from_release_to_invoice_with_live_updates_an_outage_and_a_kill(
    own_sandbox: Sandbox, event_log: str, tmp_path: Path
):
    sandbox = own_sandbox
    await sandbox.areset_faults()
    config, port = journey_config(tmp_path, sandbox, event_log)
    with gateway_process(config, port) as gateway:
        for backend, secret in (("swiftparcel", "swiftparcel"), ("wms", "wms")):
            await sandbox.aset_webhook(
                backend, gateway.webhook_url(backend), WEBHOOK_SECRETS[secret]
            )

        # Released in the ERP: the change feed starts order-to-ship.
        order_id = (await shipped_order(sandbox, "C-1001", [(MATERIAL, 2)], shipped=False))[
            "doc_no"
        ]
        shipping = f"order-to-ship.{order_id}"
        shipped = await eventually(
            lambda: workflow(gateway, shipping),
            lambda w: w is not None and w["state"] in ("COMPLETED", "FAILED", "HELD"),
            f"order-to-ship of {order_id}",
        )
        assert shipped["state"] == "COMPLETED", shipped
        assert all(step["state"] == "COMPLETED" for step in shipped["steps"])
        tracking = await tracking_of(gateway, shipping)
        await eventually(  # the TMS's booking, read by its poller, names the customer
            lambda: graphql(gateway, PORTAL, {"id": order_id}),
            lambda a: (
                tracking
                in {
                    s["trackingNumber"]
                    for s in ((a["data"] or {}).get("order") or {}).get("shipments") or ()
                }
            ),
            "the portal showing the shipment",
        )

        start = datetime.now(UTC).replace(microsecond=0)
        listeners = {
            "websocket": lambda u: over_websocket(gateway, tracking, u),
            "sse": lambda u: over_sse(gateway, tracking, u),
            "multipart": lambda u: over_multipart(gateway, tracking, u),
        }
        async with subscribed(listeners) as live:
            await all_listening(sandbox, tracking, live, start)
            await emit(sandbox, tracking, "PU", start)
            await sandbox.aset_faults("swiftparcel", duplicate_rate=1.0)
            await emit(sandbox, tracking, "IT", start + timedelta(hours=2))  # delivered twice
            await sandbox.areset_faults("swiftparcel")
            await emit(sandbox, tracking, "OD", start + timedelta(hours=6))
            await emit(sandbox, tracking, "IT", start + timedelta(hours=4))  # late
            await sandbox.aset_faults("erp", maintenance=True)
            await emit(sandbox, tracking, "DL", start + timedelta(hours=7))
            for updates in live.values():
                await updates.until(5)
            await asyncio.sleep(1.0)  # a sixth update (a duplicate) would have come by now

        expected = ["PU", "IT", "OD", "IT", "DL"]
        first = live["websocket"]
        for updates in live.values():
            assert updates.codes() == expected, updates.name
            assert updates.ids() == first.ids(), f"{updates.name}: same events, same ids"
            ranks = [progress_rank(MilestoneStatus(u["status"])) for u in updates.received]
            assert ranks == sorted(ranks), f"{updates.name}: the status never goes backwards"
            assert updates.received[-1]["status"] == "DELIVERED"
            assert updates.received[0]["shipment"] == {
                "trackingNumber": tracking,
                "carrier": "SWFT",
            }

        # The delivery started invoicing, which waits for the ERP.
        invoicing = f"ship-to-invoice.{tracking}"
        waiting = await eventually(
            lambda: admin_view(gateway, invoicing),
            lambda view: view is not None and view["workflow"]["state"] == "WAITING",
            "invoicing waiting for the ERP",
        )
        assert "erp" in (waiting["workflow"]["reason"] or ""), "it says what it waits for"
        assert gateway.process is not None
        gateway.process.send_signal(signal.SIGKILL)
        gateway.process.wait(timeout=10)

    await sandbox.areset_faults("erp")
    with gateway_process(config, port) as gateway:
        invoiced = await eventually(
            lambda: workflow(gateway, invoicing),
            lambda w: w is not None and w["state"] in ("COMPLETED", "FAILED", "HELD"),
            "invoicing after the restart",
        )
        assert invoiced["state"] == "COMPLETED", invoiced
        invoices = await erp_invoices(sandbox, order_id)
        assert len(invoices) == 1, "the invoice is posted once"

        view = await eventually(
            lambda: graphql(gateway, PORTAL, {"id": order_id}),
            lambda a: (
                (a.get("data") or {}).get("order")
                and a["data"]["order"]["status"] == "INVOICED"
                and a["data"]["order"]["invoices"]
            ),
            "the portal showing the order invoiced",
        )
        order = view["data"]["order"]
        assert [invoice["id"] for invoice in order["invoices"]] == [invoices[0]["inv_no"]]
        (shipment,) = [s for s in order["shipments"] if s["trackingNumber"] == tracking]
        assert shipment["status"] == "DELIVERED"
        ours = [
            m["carrierCode"] for m in shipment["milestones"] if m["occurredAt"] >= start.isoformat()
        ]
        assert sorted(ours) == sorted(expected), "each milestone once in the history"

        # Subscribers that come back with the first event's id get the rest, from the log.
        seen = first.ids()[0]
        resumed = {
            "websocket": lambda u: over_websocket(gateway, tracking, u, after=seen),
            "sse": lambda u: over_sse(gateway, tracking, u, after=seen),
        }
        async with subscribed(resumed) as again:
            for updates in again.values():
                await updates.until(4)
            await asyncio.sleep(0.5)
        missed = first.ids()[1:]
        for updates in again.values():
            # What it missed, in order, then whatever the shipment did since (a booking
            # backfill after the restart, say), never one event twice.
            assert updates.ids()[: len(missed)] == missed, f"{updates.name}: no gap"
            assert len(set(updates.ids())) == len(updates.ids()), f"{updates.name}: no duplicate"
