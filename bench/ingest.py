"""Events end to end through a real gateway: carrier webhooks in, milestone history and
shipments read models, live `shipmentUpdated` out over graphql-transport-ws.

    python -m bench.ingest                                  # embedded SQLite log
    python -m bench.ingest --engine jetstream               # NATS JetStream on loopback
    python -m bench.ingest --events 2000 --concurrency 32 --subscribers 1000 --rounds 3
    python -m bench.ingest --carrier heritage --batch 50   # X12 214 pushes, 50 statuses each

It starts `logistics-gateway demo` (the reference backends and the gateway, on free ports
and a state folder of its own), finds C-1001's SwiftParcel shipments through the portal
API, then measures per round:

- ingest: signed webhooks posted by `--concurrency` clients, spread over the shipments
  (SwiftParcel JSON, one event per delivery; or Heritage's X12 214 pushes, `--batch`
  interchanges per delivery, as EDI senders batch them);
  events/s acknowledged (202, durable in the log) and events/s delivered to one WebSocket
  client subscribed to every shipment (through the projections and the hub), the second
  being the end-to-end figure; and the same events per second of CPU the gateway process
  used meanwhile (all its threads), which a busy, shared machine disturbs far less;
- fan-out: `--subscribers` WebSocket subscribers to one shipment, `--paced` events
  sent one at a time; delivery delay from the webhook's send to each subscriber's receipt
  (p50, p99 over every subscriber and event).

Bounded: a fixed number of events per round and every wait capped by `--timeout`. The load
comes from this process on the same machine, so the figures include its cost.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect

from bench.demo import UNTHROTTLED, Gateway, demo_gateway
from gateway.config import DEMO_CLIENTS, GatewayConfig
from policies.principal import DEFAULT_PLAN
from sandbox import x12

TENANT_KEY = DEMO_CLIENTS["portal-c1001"].api_key
ADMIN_KEY = DEMO_CLIENTS["operations"].api_key
HISTORY = "milestone-history"
"""The projection whose applied-event count says the read models have caught up."""
PROTOCOL = "graphql-transport-ws"


def uncapped() -> dict[str, str]:
    """Rate limits off and the portal's plan allowing a crowd of subscriptions: a thousand
    subscribers on one key is past any plan's caps, and the pipeline is what is measured."""
    plans = {name: plan.model_dump(mode="json") for name, plan in GatewayConfig().plans.items()}
    plans[DEFAULT_PLAN]["max_subscriptions"] = 100_000
    return {**UNTHROTTLED, "LG_PLANS": orjson.dumps(plans).decode()}


UPDATES = """subscription($tn: String!) {
  shipmentUpdated(trackingNumber: $tn) { eventId milestone { occurredAt } }
}"""


async def portal_shipments(
    client: httpx.AsyncClient, gateway: Gateway, carrier: str
) -> tuple[list, set]:
    """C-1001's order ids and the tracking numbers of its shipments with `carrier`, as the
    portal answers them (the read models)."""
    query = """query($after: String) { orders(first: 50, after: $after) {
        orders { id shipments { trackingNumber carrier } } nextCursor } }"""
    orders, trackings, after = [], set(), None
    for _ in range(20):
        answer = await client.post(
            f"{gateway.url}/graphql",
            json={"query": query, "variables": {"after": after}},
            headers={"X-API-Key": TENANT_KEY},
        )
        page = (answer.json().get("data") or {}).get("orders") or {}
        for order in page.get("orders") or ():
            orders.append(order["id"])
            trackings |= {
                s["trackingNumber"] for s in order["shipments"] or () if s["carrier"] == carrier
            }
        after = page.get("nextCursor")
        if after is None:
            break
    return orders, trackings


@dataclass(frozen=True)
class Booked:
    tracking_number: str
    booking_id: str
    order_id: str


CARRIERS = {"swiftparcel": "SWFT", "heritage": "HRTG"}
PLACES = {
    "SWFT": ({"country": "NL", "postal_code": "1043 AP"},) * 2,
    "HRTG": ({"country": "US", "postal_code": "60601"}, {"country": "US", "postal_code": "10001"}),
}


async def booked_shipments(
    client: httpx.AsyncClient, gateway: Gateway, carrier: str, wanted: int, timeout: float
) -> list[Booked]:
    """`wanted` shipments of C-1001 with `carrier`: booked in the reference TMS for its orders,
    then waited for until the read models show them (the booking poller reads the TMS), so
    each shipment's history stays as short as real ones are."""
    deadline = time.monotonic() + timeout
    orders: list[str] = []
    while not orders and time.monotonic() < deadline:
        orders, _ = await portal_shipments(client, gateway, carrier)
        await asyncio.sleep(0.5)
    if not orders:
        raise SystemExit("the orders read model never listed C-1001's orders")
    tms, headers = gateway.backends["tms"], {"X-Api-Key": gateway.tms_key}
    origin, destination = PLACES[carrier]
    parcel = {"weight_kg": 2.0, "length_cm": 40, "width_cm": 30, "height_cm": 30}
    booked: list[Booked] = []
    for number in range(wanted):
        rated = await client.post(
            f"{tms}/rates",
            json={"origin": origin, "destination": destination, "parcels": [parcel]},
            headers=headers,
        )
        quote = next(q for q in rated.json()["quotes"] if q["carrier"] == carrier)
        order_id = orders[number % len(orders)]
        tendered = await client.post(
            f"{tms}/tenders",
            json={"quote_id": quote["quote_id"], "order_ref": order_id},
            headers=headers,
        )
        booking = tendered.json()
        booked.append(Booked(booking["tracking_number"], booking["booking_id"], order_id))
    wanted_numbers = {shipment.tracking_number for shipment in booked}
    while time.monotonic() < deadline:
        _, shown = await portal_shipments(client, gateway, carrier)
        if wanted_numbers <= shown:
            return booked
        await asyncio.sleep(1.0)
    raise SystemExit(
        f"the read models show {len(wanted_numbers & shown)} of {len(booked)} bookings"
    )


@dataclass
class Subscriber:
    socket: ClientConnection
    received: dict[str, float] = field(default_factory=dict)
    """Per milestone time (the event's key), when it arrived here."""

    async def listen(self) -> None:
        async for raw in self.socket:
            message = orjson.loads(raw)
            if message.get("type") == "ping":
                await self.socket.send('{"type":"pong"}')
            elif message.get("type") == "error":
                print(f"a subscription was refused: {message['payload']}", file=sys.stderr)
                return
            elif message.get("type") == "next":
                update = message["payload"]["data"]["shipmentUpdated"]
                self.received[utc_key(update["milestone"]["occurredAt"])] = time.perf_counter()


async def subscribe(gateway: Gateway, *trackings: str) -> Subscriber:
    """One connection, one subscription per shipment."""
    socket = await connect(
        gateway.websocket_url,
        subprotocols=[PROTOCOL],  # type: ignore[list-item]
        additional_headers={"X-API-Key": TENANT_KEY},
        max_queue=None,
    )
    await socket.send('{"type":"connection_init","payload":{}}')
    while orjson.loads(await socket.recv()).get("type") != "connection_ack":
        pass
    for number, tracking in enumerate(trackings, 1):
        message = {
            "id": str(number),
            "type": "subscribe",
            "payload": {"query": UPDATES, "variables": {"tn": tracking}},
        }
        await socket.send(orjson.dumps(message).decode())
    return Subscriber(socket)


def utc_key(moment: str | datetime) -> str:
    """A milestone's time as the key both sides agree on (UTC, ISO 8601)."""
    parsed = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return parsed.astimezone(UTC).isoformat()


@dataclass
class Sender:
    """Webhooks carrying new in-transit statuses, each a step later than the last (a second
    for SwiftParcel, a minute, X12's resolution, for Heritage), for the shipments in turn
    (a shipment's history stays as short as real ones are). SwiftParcel's are signed JSON,
    one event each; Heritage's are X12 214 interchanges, as many per push as asked. Sent with
    aiohttp, whose client costs this process far less per request than httpx's."""

    client: aiohttp.ClientSession
    gateway: Gateway
    shipments: list[Booked]
    carrier: str = "SWFT"
    start: datetime = field(
        default_factory=lambda: datetime.now(UTC).replace(second=0, microsecond=0)
    )
    sent: int = 0
    sent_at: dict[str, float] = field(default_factory=dict)

    @property
    def step(self) -> timedelta:
        return timedelta(minutes=1) if self.carrier == "HRTG" else timedelta(seconds=1)

    def key(self, number: int) -> str:
        return utc_key(self.start + self.step * number)

    async def send(self, events: int = 1) -> int:
        """One delivery of `events` statuses; its HTTP status."""
        numbers = range(self.sent, self.sent + events)
        self.sent += events
        if self.carrier == "HRTG":
            url, body, headers = self._x12(numbers)
        else:
            (number,) = numbers
            url, body, headers = self._swift(number)
        now = time.perf_counter()
        for number in numbers:
            self.sent_at[self.key(number)] = now
        async with self.client.post(url, data=body, headers=headers) as answer:
            await answer.read()
            return answer.status

    def _shipment(self, number: int) -> Booked:
        return self.shipments[number % len(self.shipments)]

    def _swift(self, number: int) -> tuple[str, bytes, dict[str, str]]:
        event = {
            "id": f"bench-{uuid.uuid4().hex}",
            "code": "IT",
            "description": "Departed hub",
            "timestamp": (self.start + self.step * number).isoformat(),
            "location": {"city": "Utrecht", "country": "NL"},
        }
        tracking = self._shipment(number).tracking_number
        body = orjson.dumps({"trackingNumber": tracking, "event": event})
        signature = hmac.new(self.gateway.swift_secret.encode(), body, hashlib.sha256)
        headers = {"X-Swift-Signature": signature.hexdigest(), "content-type": "application/json"}
        return f"{self.gateway.url}/webhooks/swiftparcel", body, headers

    def _x12(self, numbers: range) -> tuple[str, bytes, dict[str, str]]:
        interchanges = []
        for number in numbers:
            shipment = self._shipment(number)
            report = x12.StatusReport(
                order_ref=shipment.order_id,
                tracking_number=shipment.tracking_number,
                booking_id=shipment.booking_id,
                shipper="Acme Supplies",
                consignee="Northwind Retail",
                status="X6",
                reason="NS",
                occurred_at=self.start + self.step * number,
                timezone="America/Chicago",
                city="Chicago",
                state="IL",
                country="US",
                equipment="TL",
            )
            interchanges.append(x12.interchange(report, number + 1, datetime.now(UTC)))
        credentials = base64.b64encode(f"heritage:{self.gateway.heritage_password}".encode())
        headers = {"Authorization": f"Basic {credentials.decode()}", "content-type": "text/plain"}
        return f"{self.gateway.url}/webhooks/heritage", "".join(interchanges).encode(), headers


async def wait_for(subscribers: list[Subscriber], keys: set[str], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(keys <= subscriber.received.keys() for subscriber in subscribers):
            return True
        await asyncio.sleep(0.01)
    return False


async def applied_events(client: aiohttp.ClientSession, gateway: Gateway) -> int:
    """Events the milestone-history projection has applied, from `/metrics` (the event lag
    histogram counts each applied event, by source and consumer)."""
    async with client.get(f"{gateway.url}/metrics", headers={"X-API-Key": ADMIN_KEY}) as answer:
        text = await answer.text()
    total = 0.0
    for line in text.splitlines():
        if line.startswith("gateway_event_lag_seconds_count{") and f'consumer="{HISTORY}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


async def read_models_caught_up(
    client: aiohttp.ClientSession, gateway: Gateway, target: int, timeout: float
) -> float | None:
    """When the read models had applied `target` events (perf_counter), or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await applied_events(client, gateway) >= target:
            return time.perf_counter()
        await asyncio.sleep(0.25)  # each look renders every metric: not too often
    return None


def cpu_seconds(pid: int) -> float:
    """CPU time the process has used so far, all its threads (Linux `/proc`)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def ingest_round(
    sender: Sender, events: int, concurrency: int, timeout: float, batch: int
) -> dict:
    numbers = [shipment.tracking_number for shipment in sender.shipments]
    watcher = await subscribe(sender.gateway, *numbers)
    listening = asyncio.create_task(watcher.listen())
    await asyncio.sleep(0.5)
    first = sender.sent
    applied_before = await applied_events(sender.client, sender.gateway)
    deliveries = iter([min(batch, events - start) for start in range(0, events, batch)])
    statuses: list[int] = []

    async def worker() -> None:
        for size in deliveries:
            statuses.append(await sender.send(size))

    began, cpu_before = time.perf_counter(), cpu_seconds(sender.gateway.pid)
    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), timeout)
    acknowledged = time.perf_counter() - began
    caught_up = await read_models_caught_up(
        sender.client, sender.gateway, applied_before + events, timeout
    )
    keys = {sender.key(number) for number in range(first, first + events)}
    complete = await wait_for([watcher], keys, timeout)
    delivered = max(watcher.received.get(key, 0.0) for key in keys) - began
    cpu_used = cpu_seconds(sender.gateway.pid) - cpu_before
    listening.cancel()
    await watcher.socket.close()
    return {
        "accepted": statuses.count(202),
        "refused": sorted(set(statuses) - {202}),
        "deliveries": len(statuses),
        "ack_per_s": events / acknowledged,
        "read_model_per_s": events / (caught_up - began) if caught_up else None,
        "delivered_per_s": events / delivered if complete else None,
        "per_cpu_s": events / cpu_used if complete and cpu_used > 0 else None,
        "complete": complete,
    }


async def fan_out_round(
    sender: Sender, subscribers: int, paced: int, interval_s: float, timeout: float
) -> dict:
    crowd = []
    for _ in range(subscribers):
        crowd.append(await subscribe(sender.gateway, sender.shipments[0].tracking_number))
    tasks = [asyncio.create_task(subscriber.listen()) for subscriber in crowd]
    await asyncio.sleep(1.0)
    keys = set()
    for _ in range(paced):
        while sender.sent % len(sender.shipments):
            sender.sent += 1  # the crowd follows the first shipment: send to that one
        keys.add(sender.key(sender.sent))
        await sender.send()
        await asyncio.sleep(interval_s)
    complete = await wait_for(crowd, keys, timeout)
    delays = sorted(
        (subscriber.received[key] - sender.sent_at[key]) * 1000
        for subscriber in crowd
        for key in keys
        if key in subscriber.received
    )
    for task in tasks:
        task.cancel()
    await asyncio.gather(*(subscriber.socket.close() for subscriber in crowd))
    return {
        "deliveries": len(delays),
        "expected": subscribers * paced,
        "p50_ms": statistics.median(delays) if delays else None,
        "p99_ms": delays[int(len(delays) * 0.99) - 1] if delays else None,
        "complete": complete,
    }


async def measure(gateway: Gateway, arguments: argparse.Namespace) -> None:
    carrier = CARRIERS[arguments.carrier]
    limits = httpx.Limits(max_connections=arguments.concurrency)
    async with httpx.AsyncClient(timeout=arguments.timeout, limits=limits) as client:
        shipments = await booked_shipments(
            client, gateway, carrier, arguments.shipments, arguments.timeout * 4
        )
        # idle connections are dropped before the server's keep-alive timeout (5 s) would
        connector = aiohttp.TCPConnector(limit=arguments.concurrency, keepalive_timeout=2.0)
        timeout = aiohttp.ClientTimeout(total=arguments.timeout)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as webhooks:
            sender = Sender(webhooks, gateway, shipments, carrier)
            print(
                f"engine {arguments.engine}, {arguments.carrier} webhooks of {arguments.batch} "
                f"event(s), {len(shipments)} shipments",
                flush=True,
            )
            for number in range(1, arguments.rounds + 1):
                print(await measured_round(sender, number, arguments), flush=True)


async def measured_round(sender: Sender, number: int, arguments: argparse.Namespace) -> str:
    ingest = await ingest_round(
        sender, arguments.events, arguments.concurrency, arguments.timeout, arguments.batch
    )
    fan_out = await fan_out_round(
        sender, arguments.subscribers, arguments.paced, 0.1, arguments.timeout
    )
    delivered = ingest["delivered_per_s"]
    return (
        f"round {number}: {ingest['accepted']}/{ingest['deliveries']} webhooks accepted "
        f"(other statuses: {ingest['refused'] or 'none'}), "
        f"{ingest['ack_per_s']:.0f} events acknowledged/s, "
        f"{per_second(ingest['read_model_per_s'])} in the read models/s, "
        f"{per_second(delivered)} delivered/s end to end "
        f"({per_second(ingest['per_cpu_s'])} per second of the gateway's CPU); "
        f"{fan_out['deliveries']}/{fan_out['expected']} deliveries to "
        f"{arguments.subscribers} subscribers, p50 {milliseconds(fan_out['p50_ms'])}, "
        f"p99 {milliseconds(fan_out['p99_ms'])}"
    )


def per_second(value: float | None) -> str:
    return "not all" if value is None else f"{value:.0f}"


def milliseconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("sql", "jetstream"), default="sql")
    parser.add_argument("--nats", default="nats://127.0.0.1:4222")
    parser.add_argument("--carrier", choices=tuple(CARRIERS), default="swiftparcel")
    parser.add_argument(
        "--batch", type=int, default=1, help="events per delivery (heritage only; SwiftParcel: 1)"
    )
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--shipments", type=int, default=50, help="shipments the events cover")
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--paced", type=int, default=20, help="events sent to the crowd")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=60.0)
    arguments = parser.parse_args()
    if arguments.batch < 1 or (arguments.batch > 1 and arguments.carrier != "heritage"):
        parser.error("--batch: 1, or more with --carrier heritage (SwiftParcel sends one each)")
    with (
        tempfile.TemporaryDirectory(prefix="bench-ingest-") as folder,
        demo_gateway(
            arguments.engine, arguments.nats, Path(folder), arguments.timeout * 2, uncapped()
        ) as gw,
    ):
        asyncio.run(measure(gw, arguments))


if __name__ == "__main__":
    main()
