"""The product end to end: GraphQL over the federation router, webhooks in, tenants apart.

Everything here crosses real HTTP on loopback: the test talks to `logistics-gateway run`, which
talks to the reference backends; the backends push their webhooks back to the gateway.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.gateway.conftest import READ_MODEL_WAIT_S, WEBHOOK_SECRETS, RunningGateway, stock_of
from tests.sandbox_processes import Sandbox

SHIPMENT_FIELDS = """
    trackingNumber carrier status live asOf stale
    current { status carrierCode carrierDescription occurredAt }
    milestones { status carrierCode occurredAt }
"""


async def graphql(
    gateway: RunningGateway, query: str, variables: dict | None = None, tenant: str = "C-1001"
) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30.0) as client:
        response = await client.post(
            gateway.graphql_url(),
            json={"query": query, "variables": variables or {}},
            headers={"X-API-Key": gateway.api_key(tenant)},
        )
    assert response.status_code == 200, response.text
    return response.json()


CARRIER_BACKENDS = {"SWFT": "swiftparcel", "RDLN": "roadline", "HRTG": "heritage"}
UNDER_WAY = ("INFO_RECEIVED", "IN_TRANSIT", "OUT_FOR_DELIVERY")


async def first_order_with_carrier(
    gateway: RunningGateway,
    tenant: str,
    carrier: str,
    *,
    delivered: bool = False,
    sandbox: Sandbox | None = None,
) -> dict:
    """An order of `tenant` shipped with `carrier`, with a status, found through the public API.

    Shipments are answered from the read models, which the gateway fills from the TMS's
    bookings and the carriers' events after it starts: the first answers may come before.
    A shipment already returned to its shipper is passed over. Tests that send milestones ask
    for a `delivered` one: a shipment still under way may be on its way back to the shipper
    (its carrier's history still being read), and RETURNED outranks whatever they send. With
    the `sandbox`, when none is delivered yet, the carrier delivers one that is under way (the
    seeded shipments need not hold a delivered one of each carrier for each tenant)."""
    deadline = time.monotonic() + READ_MODEL_WAIT_S
    delivering: str | None = None
    while time.monotonic() < deadline:
        after = None
        under_way: list[dict] = []
        for _ in range(15):
            result = await graphql(
                gateway,
                """query($after: String) { orders(first: 20, after: $after) {
                     orders { id shipments { trackingNumber carrier status } } nextCursor } }""",
                {"after": after},
                tenant,
            )
            page = result["data"]["orders"]
            for order in page["orders"]:
                for shipment in order["shipments"] or ():
                    if shipment["carrier"] != carrier:
                        continue
                    status = shipment["status"]
                    found = {"order_id": order["id"], "tracking": shipment["trackingNumber"]}
                    if status == "DELIVERED" or (
                        not delivered and status not in (None, "RETURNED")
                    ):
                        return found
                    if status in UNDER_WAY:
                        under_way.append(found)
            after = page["nextCursor"]
            if after is None:
                break
        if delivered and sandbox is not None and delivering is None and under_way:
            delivering = under_way[0]["tracking"]
            await sandbox.aemit(CARRIER_BACKENDS[carrier], delivering, "DL")
        await asyncio.sleep(0.5)
    pytest.fail(f"no order of {tenant} ships with {carrier}")


async def admin(gateway: RunningGateway, method: str, path: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10.0) as client:
        return await client.request(
            method, f"{gateway.url}{path}", headers={"X-API-Key": gateway.api_key("ops")}
        )


async def dead_letter_ids(gateway: RunningGateway) -> set[str]:
    response = await admin(gateway, "GET", "/admin/dead-letters")
    assert response.status_code == 200
    return {letter["id"] for letter in response.json()["dead_letters"]}


def swift_body(tracking: str, code: str, occurred: datetime, event_id: str) -> bytes:
    event = {
        "id": event_id,
        "code": code,
        "description": "x",
        "timestamp": occurred.isoformat(),
        "location": {"city": "Utrecht", "country": "NL"},
    }
    return json.dumps({"trackingNumber": tracking, "event": event}).encode()


def swift_signature(body: bytes, secret: str = WEBHOOK_SECRETS["swiftparcel"]) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def post_webhook(
    gateway: RunningGateway, source: str, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10.0) as client:
        return await client.post(gateway.webhook_url(source), content=body, headers=headers)


# --- GraphQL, authentication and tenants ------------------------------------------------


async def test_an_order_and_its_shipments_come_back_in_one_query(gateway):
    found = await first_order_with_carrier(gateway, "C-1001", "SWFT")
    deadline = time.monotonic() + READ_MODEL_WAIT_S
    while True:  # fresh once the ERP's change log has been read to its end
        result = await graphql(
            gateway,
            "query($id: ID!) { order(id: $id) { id customerId status asOf stale"
            " lines { item { sku } }"
            f" shipments {{ {SHIPMENT_FIELDS} }} }} }}",
            {"id": found["order_id"]},
        )
        assert "errors" not in result, result
        order = result["data"]["order"]
        if not order["stale"] or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.25)
    assert order["id"] == found["order_id"]
    assert order["customerId"] == "C-1001"
    assert order["stale"] is False, order
    assert datetime.now(UTC) - datetime.fromisoformat(order["asOf"]) < timedelta(seconds=60)
    assert order["lines"], "an order has lines"
    tracked = [s for s in order["shipments"] if s["trackingNumber"] == found["tracking"]]
    assert tracked and tracked[0]["status"] is not None


async def test_a_shipment_is_found_by_its_tracking_number(gateway):
    found = await first_order_with_carrier(gateway, "C-1001", "SWFT")
    result = await graphql(
        gateway,
        "query($t: String!) { shipment(trackingNumber: $t) {"
        f" {SHIPMENT_FIELDS} order {{ id }} }} }}",
        {"t": found["tracking"]},
    )
    shipment = result["data"]["shipment"]
    assert shipment["trackingNumber"] == found["tracking"]
    assert shipment["order"]["id"] == found["order_id"]
    assert shipment["milestones"], "a manifested parcel has at least one milestone"


async def test_another_tenants_records_look_exactly_like_missing_ones(gateway):
    theirs = await first_order_with_carrier(gateway, "C-1002", "SWFT")
    result = await graphql(
        gateway,
        "query($id: ID!, $t: String!) { order(id: $id) { id } shipment(trackingNumber: $t)"
        " { trackingNumber } }",
        {"id": theirs["order_id"], "t": theirs["tracking"]},
        tenant="C-1001",
    )
    assert result == {"data": {"order": None, "shipment": None}}
    missing = await graphql(
        gateway,
        'query { order(id: "SO-999999") { id }'
        ' shipment(trackingNumber: "SP0000000000") { trackingNumber } }',
    )
    assert missing == result, "a foreign record must be indistinguishable from none"


@pytest.mark.parametrize(
    ("headers", "message"),
    [({}, "an API key is required"), ({"X-API-Key": "not-a-key"}, "invalid API key")],
)
async def test_graphql_without_a_valid_api_key_is_refused(gateway, headers, message):
    async with httpx.AsyncClient(timeout=10.0) as client:
        response = await client.post(
            gateway.graphql_url(), json={"query": "{ me { name } }"}, headers=headers
        )
    assert response.status_code == 401
    assert response.json()["errors"][0]["message"].startswith(message)
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_admin_routes_need_the_admin_scope(gateway):
    async with httpx.AsyncClient(timeout=10.0) as client:
        response = await client.get(
            f"{gateway.url}/admin/dead-letters", headers={"X-API-Key": gateway.api_key("C-1001")}
        )
    assert response.status_code == 403


async def test_every_response_carries_a_correlation_id_and_keeps_the_callers(gateway):
    async with httpx.AsyncClient(timeout=10.0) as client:
        mine = await client.get(f"{gateway.url}/health", headers={"X-Correlation-ID": "portal-42"})
        fresh = await client.get(f"{gateway.url}/health")
    assert mine.headers["x-correlation-id"] == "portal-42"
    assert len(fresh.headers["x-correlation-id"]) == 32


async def test_an_erp_outage_is_a_clear_error_and_the_breaker_opens(gateway, clean_faults):
    sandbox: Sandbox = clean_faults
    await sandbox.aset_faults("erp", outage=True)
    result = await graphql(gateway, "{ me { name } }")
    assert result["data"] == {"me": None}
    error = result["errors"][0]
    assert error["extensions"]["code"] == "BACKEND_UNAVAILABLE"
    assert "erp" in error["message"]
    assert "Traceback" not in str(result) and "http://" not in str(result)
    for _ in range(4):
        message = (await graphql(gateway, "{ me { name } }"))["errors"][0]["message"]
        if "too many recent failures" in message:
            break  # the breaker is open: the ERP was not called
    assert "too many recent failures" in message
    async with httpx.AsyncClient(timeout=10.0) as client:
        ready = await client.get(f"{gateway.url}/ready")
    assert ready.status_code == 200, "an open breaker degrades the gateway, it stays in service"
    assert ready.json()["status"] == "degraded"
    erp = ready.json()["backends"]["erp"]
    # open, or already probing again if this loaded machine took longer than the 0.5 s reset
    assert erp["state"] == "degraded" and erp["breaker"] in ("open", "half_open"), erp
    await sandbox.areset_faults("erp")
    await asyncio.sleep(0.6)  # the test configuration's breaker reset time is 0.5 s
    recovered = await graphql(gateway, "{ me { name } }")
    assert recovered["data"]["me"]["name"], recovered


# --- Webhooks in: durable, deduplicated, never moving a shipment backwards ----------------


async def shipment_view(
    gateway: RunningGateway, tracking: str, until: Callable[[dict], bool] = lambda _: True
) -> dict:
    """The shipment as the portal sees it, once `until` holds (the read models follow the
    event log, so an accepted event shows a moment later), or as it is when time runs out."""
    deadline = time.monotonic() + READ_MODEL_WAIT_S
    while True:
        result = await graphql(
            gateway,
            f"query($t: String!) {{ shipment(trackingNumber: $t) {{ {SHIPMENT_FIELDS} }} }}",
            {"t": tracking},
        )
        assert "errors" not in result, result
        view = result["data"]["shipment"]
        if until(view) or time.monotonic() > deadline:
            return view
        await asyncio.sleep(0.1)


async def wait_for_delivery_answers(sandbox: Sandbox, backend: str, count: int) -> list[dict]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        deliveries = await sandbox.adeliveries(backend)
        answered = [d for d in deliveries if d["status_code"] is not None]
        if len(answered) >= count:
            return answered
        await asyncio.sleep(0.1)
    pytest.fail(f"{backend} made fewer than {count} deliveries")


async def test_carrier_webhooks_are_recorded_and_a_late_in_transit_never_undoes_delivery(
    gateway, clean_faults
):
    sandbox: Sandbox = clean_faults
    found = await first_order_with_carrier(
        gateway, "C-1001", "SWFT", delivered=True, sandbox=clean_faults
    )
    tracking = found["tracking"]
    await sandbox.aset_webhook(
        "swiftparcel", gateway.webhook_url("swiftparcel"), WEBHOOK_SECRETS["swiftparcel"]
    )
    await sandbox.aclear_deliveries("swiftparcel")
    delivered_at = datetime.now(UTC).replace(microsecond=0)
    in_transit_at = delivered_at - timedelta(hours=5)
    await sandbox.aemit("swiftparcel", tracking, "DL", delivered_at.isoformat())
    await sandbox.aemit("swiftparcel", tracking, "IT", in_transit_at.isoformat())
    answered = await wait_for_delivery_answers(sandbox, "swiftparcel", 2)
    assert [d["status_code"] for d in answered] == [202, 202]
    await sandbox.aset_faults("swiftparcel", outage=True)  # only what we recorded can answer now
    view = await shipment_view(
        gateway,
        tracking,
        # asOf waits for the TMS's first completed poll round on a freshly started gateway
        lambda v: {"DL", "IT"} <= {m["carrierCode"] for m in v["milestones"]} and v["asOf"],
    )
    assert view["live"] is False
    heard = datetime.fromisoformat(view["asOf"])  # the carrier just pushed, the TMS is polled
    assert view["stale"] is False and datetime.now(UTC) - heard < timedelta(minutes=2), view
    assert view["status"] == "DELIVERED"
    assert view["current"]["carrierCode"] == "DL"
    codes = [(m["carrierCode"], m["occurredAt"]) for m in view["milestones"]]
    assert ("IT", in_transit_at.isoformat()) in codes, "the late event is kept in the history"


async def test_duplicate_and_out_of_order_deliveries_record_each_event_once(gateway, clean_faults):
    sandbox: Sandbox = clean_faults
    found = await first_order_with_carrier(
        gateway, "C-1001", "SWFT", delivered=True, sandbox=sandbox
    )
    tracking = found["tracking"]
    await sandbox.aset_webhook(
        "swiftparcel", gateway.webhook_url("swiftparcel"), WEBHOOK_SECRETS["swiftparcel"]
    )
    await sandbox.aclear_deliveries("swiftparcel")
    await sandbox.aset_faults("swiftparcel", duplicate_rate=1.0, out_of_order=True)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    await sandbox.aemit("swiftparcel", tracking, "OD", start.isoformat())
    await sandbox.aemit("swiftparcel", tracking, "NA", (start + timedelta(hours=1)).isoformat())
    await sandbox.aemit("swiftparcel", tracking, "OD", (start + timedelta(hours=20)).isoformat())
    # The second event overtakes the first, both sent twice; switching the faults off releases
    # the third, held back for reordering, once: five deliveries of three events.
    await sandbox.areset_faults("swiftparcel")
    answered = await wait_for_delivery_answers(sandbox, "swiftparcel", 5)
    assert all(d["status_code"] == 202 for d in answered)
    await sandbox.aset_faults("swiftparcel", outage=True)

    def ours(view: dict) -> list[dict]:
        return [m for m in view["milestones"] if m["occurredAt"] >= start.isoformat()]

    view = await shipment_view(gateway, tracking, lambda v: len(ours(v)) >= 3)
    assert [m["carrierCode"] for m in ours(view)] == ["OD", "NA", "OD"], (
        "each event once, in time order"
    )
    assert view["status"] in {"OUT_FOR_DELIVERY", "DELIVERED"}


async def test_a_bad_signature_is_refused_and_nothing_is_stored(gateway):
    before = await dead_letter_ids(gateway)
    body = swift_body("SP0000000001", "DL", datetime.now(UTC), "forged-1")
    response = await post_webhook(
        gateway,
        "swiftparcel",
        body,
        {
            "X-Swift-Signature": swift_signature(body, "wrong-secret"),
            "content-type": "application/json",
        },
    )
    assert response.status_code == 401
    assert response.json()["error"] == "unauthenticated"
    assert await dead_letter_ids(gateway) == before


async def test_malformed_json_is_rejected_precisely_and_kept_for_replay(gateway):
    body = b'{"trackingNumber": "SP1", "event": {"code": "DL", "timestamp": "not a time"'
    response = await post_webhook(
        gateway,
        "swiftparcel",
        body,
        {"X-Swift-Signature": swift_signature(body), "content-type": "application/json"},
    )
    assert response.status_code == 400
    problem = response.json()
    assert problem["error"] == "malformed"
    assert "JSON" in problem["message"] or "json" in problem["message"]
    listed = (await admin(gateway, "GET", "/admin/dead-letters?source=swiftparcel")).json()
    letter = next(d for d in listed["dead_letters"] if d["id"] == problem["dead_letter_id"])
    assert letter["size"] == len(body)
    assert letter["reason"] == problem["message"]
    replay = await admin(gateway, "POST", f"/admin/dead-letters/{problem['dead_letter_id']}/replay")
    assert replay.status_code == 422
    again = (await admin(gateway, "GET", "/admin/dead-letters?source=swiftparcel")).json()
    replayed = next(d for d in again["dead_letters"] if d["id"] == problem["dead_letter_id"])
    assert replayed["replay_outcome"].startswith("rejected")


async def test_an_unknown_status_code_is_kept_as_a_dead_letter_not_dropped(gateway):
    body = swift_body("SP0000000001", "ZZ", datetime.now(UTC), "unknown-code-1")
    response = await post_webhook(
        gateway,
        "swiftparcel",
        body,
        {"X-Swift-Signature": swift_signature(body), "content-type": "application/json"},
    )
    assert response.status_code == 422
    assert "'ZZ'" in response.json()["message"]
    assert response.json()["dead_letter_id"] in await dead_letter_ids(gateway)


async def test_x12_with_a_wrong_password_is_refused_and_a_truncated_one_dead_lettered(gateway):
    def basic(password: str) -> str:
        return "Basic " + base64.b64encode(f"heritage:{password}".encode()).decode()

    message = (
        b"ISA*00*          *00*          *02*HRTG           *ZZ*GATEWAY        *261120*1403*U*00401"
        b"*000000901*0*P*>~GS*QM*HRTG*GATEWAY*20261120*1403*901*X*004010~ST*214*0001~B10*HF1*BK-1*HRTG~"
    )
    refused = await post_webhook(
        gateway,
        "heritage",
        message,
        {"Authorization": basic("wrong"), "content-type": "application/edi-x12"},
    )
    assert refused.status_code == 401
    truncated = await post_webhook(
        gateway,
        "heritage",
        message,
        {
            "Authorization": basic(WEBHOOK_SECRETS["heritage"]),
            "content-type": "application/edi-x12",
        },
    )
    assert truncated.status_code == 400
    assert truncated.json()["dead_letter_id"] in await dead_letter_ids(gateway)


async def test_a_stale_wms_delivery_is_refused(gateway):
    body = json.dumps(
        {"event_id": "evt_1", "type": "task.completed", "occurred_at": "2026-11-20T14:03:00Z"}
    ).encode()
    stale = str(int(time.time()) - 3600)
    signature = hmac.new(
        WEBHOOK_SECRETS["wms"].encode(), stale.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    response = await post_webhook(
        gateway,
        "wms",
        body,
        {
            "X-WMS-Timestamp": stale,
            "X-WMS-Signature": f"sha256={signature}",
            "content-type": "application/json",
        },
    )
    assert response.status_code == 401
    assert "window" in response.json()["message"]


async def test_a_stock_adjustment_pushed_by_the_warehouse_is_accepted(gateway, clean_faults):
    sandbox: Sandbox = clean_faults
    await sandbox.aset_webhook("wms", gateway.webhook_url("wms"), WEBHOOK_SECRETS["wms"])
    await sandbox.aclear_deliveries("wms")
    found = await first_order_with_carrier(gateway, "C-1001", "SWFT")
    order = await graphql(
        gateway,
        "query($id: ID!) { order(id: $id) { lines { item { sku } } } }",
        {"id": found["order_id"]},
    )
    sku = order["data"]["order"]["lines"][0]["item"]["sku"]
    position = (await asyncio.to_thread(stock_of, gateway, sku))[0]
    reference = f"{position['warehouseId']}:{position['bin']}:{sku}"
    await sandbox.aemit("wms", reference, "inventory.adjusted", delta=-1, reason="DAMAGED")
    answered = await wait_for_delivery_answers(sandbox, "wms", 1)
    assert {d["status_code"] for d in answered} == {202}


async def test_an_unknown_webhook_source_is_not_found(gateway):
    response = await post_webhook(gateway, "acme", b"{}", {"content-type": "application/json"})
    assert response.status_code == 404


async def test_a_browser_gets_graphiql_without_a_key_but_queries_still_need_one(gateway):
    async with httpx.AsyncClient(timeout=10.0) as client:
        page = await client.get(f"{gateway.url}/graphiql", headers={"Accept": "text/html"})
        query = await client.get(
            gateway.graphql_url(),
            params={"query": "{ me { name } }"},
            headers={"Accept": "text/html"},
        )
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    assert query.status_code == 401


async def test_an_oversized_graphql_body_is_refused_before_it_is_read_whole(gateway):
    padding = "x" * 1_100_000
    async with httpx.AsyncClient(timeout=10.0) as client:
        response = await client.post(
            gateway.graphql_url(),
            json={"query": "{ me { name } }", "variables": {"padding": padding}},
            headers={"X-API-Key": gateway.api_key("C-1001")},
        )
    assert response.status_code == 413
    assert "exceeds" in response.json()["errors"][0]["message"]


async def test_an_oversized_webhook_is_refused(gateway):
    response = await post_webhook(
        gateway, "swiftparcel", b"{" + b" " * 1_100_000 + b"}", {"content-type": "application/json"}
    )
    assert response.status_code == 413
