"""Signed webhook bodies with hostile values: accepted, or refused with a 4xx and a dead letter.

A delivery that passes the sender check is the sender's word; whatever it contains, the answer
is 202 with every event in the log, or a 4xx naming the problem with the body kept as a dead
letter, on SQLite and on PostgreSQL with JetStream alike. A store that fails half way answers
503, and the redelivery completes the work and answers 202. After an unexpected failure the
server says so with a masked 500 and closes the connection.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.gateway.conftest import WEBHOOK_SECRETS, running_gateway
from tests.sandbox_processes import Sandbox
from tests.security.signed_webhooks import ADMIN_KEY, WebhookApp, webhook_app
from tests.system_apis.x12_samples import Shipment, Status, interchange

__all__ = ["webhook_app"]

LEAK_MARKERS = ("Traceback", "Error:", "Exception", 'File "', "sqlalchemy", "orjson")


def fresh() -> str:
    return uuid.uuid4().hex


def wms(event_id: str | None = None, occurred_at: str = "2026-11-20T08:03:00-06:00", **data):
    """A WMS `shipment.dispatched` delivery; keyword arguments replace fields of `data`."""
    record = {"order_ref": "SO-1", "tracking_number": f"T{fresh()[:12]}", "carrier": "SWFT"}
    return {
        "type": "shipment.dispatched",
        "event_id": event_id or fresh(),
        "occurred_at": occurred_at,
        "data": {**record, **data},
    }


def swift(tracking_number: str | None = None, **event):
    """A SwiftParcel delivery; keyword arguments replace fields of its `event`."""
    record = {"id": fresh(), "code": "IT", "timestamp": "2026-11-20T08:03:00-06:00"}
    return {"trackingNumber": tracking_number or f"SP{fresh()[:12]}", "event": {**record, **event}}


def encoded(value: object) -> bytes:
    return json.dumps(value).encode()


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def x12(shipment: Shipment) -> bytes:
    return interchange([shipment], control=int(time.time_ns() % 999_999_999) + 1).encode()


HOSTILE: dict[str, tuple[str, Callable[[], bytes]]] = {
    # Strings no UTF-8 encoder accepts: JSON lets a sender escape a lone surrogate.
    "wms lone surrogate in a value": ("wms", lambda: encoded(wms(order_ref="SO-\ud800"))),
    "wms lone surrogate in a key": ("wms", lambda: encoded({**wms(), "\udc00": 1})),
    "swift lone surrogate in the event id": ("swiftparcel", lambda: encoded(swift(id="\ud800"))),
    "swift lone surrogate in a description": (
        "swiftparcel",
        lambda: encoded(swift(description="late \udfff")),
    ),
    # NUL: JSON and X12 carry it, PostgreSQL text refuses it.
    "swift NUL in a city": ("swiftparcel", lambda: encoded(swift(location={"city": "A\x00B"}))),
    "wms NUL in the tracking number": ("wms", lambda: encoded(wms(tracking_number="T\x00"))),
    "x12 NUL in a city": ("heritage", lambda: x12(Shipment(loops=((Status(city="Chi\x00"),),)))),
    # Instants that leave the calendar once their offset is applied.
    "wms instant past year 9999 in UTC": (
        "wms",
        lambda: encoded(wms(occurred_at="9999-12-31T23:59:59-01:00")),
    ),
    "swift instant before year 1 in UTC": (
        "swiftparcel",
        lambda: encoded(swift(timestamp="0001-01-01T00:00:00+01:00")),
    ),
    "x12 instant past year 9999 in UTC": (
        "heritage",
        lambda: x12(Shipment(loops=((Status(date="99991231", time="2359", time_code="PT"),),))),
    ),
    # Nesting past the decoder's depth limit, and merely deep nesting where a record belongs.
    "wms nesting past the decoder's limit": ("wms", lambda: b'{"data": ' + nested(5000) + b"}"),
    "swift nesting past the decoder's limit": (
        "swiftparcel",
        lambda: b'{"trackingNumber": "SP1", "event": ' + nested(100_000) + b"}",
    ),
    "swift deep nesting as the event": (
        "swiftparcel",
        lambda: encoded(swift() | {"event": [[[[[]]]]]}),
    ),
    # Numbers out of range.
    "wms number beyond a double": ("wms", lambda: encoded(wms()).replace(b'"SO-1"', b"1e999")),
    "wms NaN": ("wms", lambda: encoded(wms()).replace(b'"SO-1"', b"NaN")),
    "wms integer with 5000 digits": ("wms", lambda: encoded(wms()).replace(b'"SO-1"', b"9" * 5000)),
    # Wrong types everywhere.
    "wms body is a list": ("wms", lambda: encoded([wms()])),
    "wms event id is a number": ("wms", lambda: encoded(wms() | {"event_id": 12})),
    "wms data is text": ("wms", lambda: encoded(wms() | {"data": "x"})),
    "wms carrier is an object": ("wms", lambda: encoded(wms(carrier={"a": 1}))),
    "swift tracking number is a number": (
        "swiftparcel",
        lambda: encoded(swift() | {"trackingNumber": 7}),
    ),
    "swift location is text": ("swiftparcel", lambda: encoded(swift(location="Chicago"))),
    "swift timestamp is a number": ("swiftparcel", lambda: encoded(swift(timestamp=1732000000))),
    "swift timestamp without offset": (
        "swiftparcel",
        lambda: encoded(swift(timestamp="2026-11-20T08:03:00")),
    ),
    # Longer than any store's column.
    "wms event id of 300 characters": ("wms", lambda: encoded(wms(event_id="E" * 300))),
    "swift tracking number of 100 characters": ("swiftparcel", lambda: encoded(swift("S" * 100))),
    "swift country of four letters": (
        "swiftparcel",
        lambda: encoded(swift(location={"country": "USAX"})),
    ),
    "x12 tracking number of 100 characters": (
        "heritage",
        lambda: x12(Shipment(tracking_number="H" * 100)),
    ),
    # A position's revision orders its copies: only a whole number in 64 bits is one.
    "wms revision as text": ("wms", lambda: encoded(adjusted(rev="3"))),
    "wms negative revision": ("wms", lambda: encoded(adjusted(rev=-1))),
    "wms fractional revision": ("wms", lambda: encoded(adjusted(rev=1.5))),
    "wms revision true": ("wms", lambda: encoded(adjusted(rev=True))),
    "wms revision beyond 64 bits": ("wms", lambda: encoded(adjusted(rev=2**63))),
    # A position's keys are sized for the inventory read model.
    "wms SKU of 65 characters": ("wms", lambda: encoded(adjusted(sku="S" * 65))),
    "wms bin of 65 characters": ("wms", lambda: encoded(adjusted(bin="B" * 65))),
    "wms NUL in a bin": ("wms", lambda: encoded(adjusted(bin="A\x00"))),
    # Not text at all.
    "wms invalid UTF-8": ("wms", lambda: b'{"type": "\xff\xfe"}'),
    "x12 invalid UTF-8": ("heritage", lambda: b"ISA*\xff\xfe"),
    "swift empty body": ("swiftparcel", lambda: b""),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_a_signed_hostile_body_is_refused_with_a_4xx_and_a_dead_letter(
    webhook_app: WebhookApp, case: str
) -> None:
    source, make = HOSTILE[case]
    answer = webhook_app.deliver(source, make())
    assert answer.status_code in (400, 422), f"{case}: {answer.status_code} {answer.text[:300]}"
    problem = answer.json()
    assert problem["error"] in ("malformed", "unknown_code") and problem["message"]
    assert not any(marker in answer.text for marker in LEAK_MARKERS), answer.text
    assert webhook_app.has_dead_letter(source, problem["dead_letter_id"])


def adjusted(**data: object) -> dict[str, object]:
    """A WMS `inventory.adjusted` delivery, as the reference WMS sends it; keyword arguments
    replace fields of its `data` (the position)."""
    counts = {"on_hand": 5, "allocated": 1, "in_transit": 0, "quarantine": 0, "returned": 0}
    position = {"sku": f"S{fresh()[:6]}", "warehouse": "W1", "bin": "A-01", "uom": "EA", "rev": 3}
    record = {**position, **counts, "delta": "-1.5", **data}
    return wms() | {"type": "inventory.adjusted", "data": record}


VALID: dict[str, tuple[str, Callable[[], bytes]]] = {
    "wms inventory adjustment": ("wms", lambda: encoded(adjusted())),
    "wms inventory adjustment at the last revision": (
        "wms",
        lambda: encoded(adjusted(rev=2**63 - 1, sku="S" * 64)),
    ),
    "wms inventory adjustment without a revision": ("wms", lambda: encoded(adjusted(rev=None))),
    "wms with non-ASCII text": ("wms", lambda: encoded(wms(carrier="Zürich Ü 🚚"))),
    "wms with an escaped surrogate pair": ("wms", lambda: encoded(wms(carrier="\U0001f69a"))),
    "wms instant at the edge of the calendar": (
        "wms",
        lambda: encoded(wms(occurred_at="9999-12-31T22:59:59-01:00")),
    ),
    "swift with a large but finite number ignored": (
        "swiftparcel",
        lambda: encoded(swift(extra=1e308)),
    ),
    "x12 standard message": ("heritage", lambda: x12(Shipment(tracking_number=f"HF{fresh()[:8]}"))),
}


@pytest.mark.parametrize("case", VALID)
def test_a_signed_valid_body_is_accepted_with_its_events_in_the_log(
    webhook_app: WebhookApp, case: str
) -> None:
    source, make = VALID[case]
    body = make()
    answer = webhook_app.deliver(source, body)
    assert answer.status_code == 202, f"{case}: {answer.status_code} {answer.text[:300]}"
    assert answer.json()["new"] >= 1
    assert webhook_app.in_event_log(source, body)
    again = webhook_app.deliver(source, body)
    assert again.status_code == 202 and again.json()["new"] == 0


def test_an_accepted_delivery_is_hearing_from_its_source_a_refused_one_is_not(
    webhook_app: WebhookApp,
) -> None:
    runtime = webhook_app.client.app_state["runtime"]

    def heard_at():  # type: ignore[no-untyped-def]
        return webhook_app.client.portal.call(runtime.stores.heard.last_heard).get("swiftparcel")

    time.sleep(1.1)  # past the in-process note interval of any delivery before
    before = heard_at()
    assert webhook_app.deliver("swiftparcel", encoded(swift(code="??"))).status_code == 422
    assert webhook_app.deliver("swiftparcel", b"{").status_code == 400
    forged = webhook_app.client.post(
        "/webhooks/swiftparcel", content=encoded(swift()), headers={"X-Swift-Signature": "00"}
    )
    assert forged.status_code == 401
    assert heard_at() == before, "a refused delivery is not hearing from the carrier"
    assert webhook_app.deliver("swiftparcel", encoded(swift())).status_code == 202
    after = heard_at()
    assert after is not None and (before is None or after > before)


def test_a_failing_milestone_history_does_not_fail_acceptance_and_heals_once_back(
    webhook_app: WebhookApp,
) -> None:
    """Acceptance writes the event log only: with the milestone history gone the delivery is
    still a 202, and the history projection brings the milestone in once the table is back."""
    body = encoded(swift())
    (milestone,) = webhook_app.read("swiftparcel", body)
    with _table_renamed(webhook_app, "milestone_history"):
        accepted = webhook_app.deliver("swiftparcel", body)
        assert accepted.status_code == 202, accepted.text
        assert accepted.json() == {"accepted": 1, "new": 1}
        assert webhook_app.in_event_log("swiftparcel", body)
    assert webhook_app.wait_for_history(milestone), "the projection healed the history"
    assert webhook_app.deliver("swiftparcel", body).json() == {"accepted": 1, "new": 0}


def test_a_replay_that_meets_a_log_failure_is_503_and_can_be_asked_again(
    webhook_app: WebhookApp,
) -> None:
    """A dead letter whose cause is fixed is replayed; the event log failing meanwhile is the
    same 503 a delivery gets, the letter stays unreplayed, and the next replay completes it."""
    if webhook_app.database is None:
        pytest.skip("taking JetStream away is covered by tests/stores/test_jetstream_outage.py")
    body = encoded(swift())
    runtime = webhook_app.client.app_state["runtime"]
    letter = webhook_app.client.portal.call(
        lambda: runtime.stores.dead_letters.put(
            source="swiftparcel",
            reason="held for the test",
            content_type="application/json",
            headers={},
            body=body,
            correlation_id="replay-503",
        )
    )
    replay = f"/admin/dead-letters/{letter.dead_letter_id}/replay"
    admin = {"X-API-Key": ADMIN_KEY}
    with _table_renamed(webhook_app, "event_log"):
        failed = webhook_app.client.post(replay, headers=admin)
    assert failed.status_code == 503, failed.text
    assert failed.headers["retry-after"] and failed.json()["error"] == "unavailable"
    assert not any(marker in failed.text for marker in LEAK_MARKERS), failed.text
    kept = webhook_app.client.portal.call(runtime.stores.dead_letters.get, letter.dead_letter_id)
    assert kept is not None and kept.replayed_at is None
    completed = webhook_app.client.post(replay, headers=admin)
    assert completed.status_code == 200, completed.text
    assert completed.json() == {"accepted": 1, "new": 1}


class _table_renamed:
    """Take a table away under the running app, and put it back (SQLite or PostgreSQL)."""

    def __init__(self, app: WebhookApp | Path, table: str) -> None:
        self.app, self.table = app, table

    def _alter(self, old: str, new: str) -> None:
        statement = f"ALTER TABLE {old} RENAME TO {new}"
        database = self.app if isinstance(self.app, Path) else self.app.database
        if database is not None:
            with sqlite3.connect(database) as connection:
                connection.execute(statement)
            return
        url = self.app.config.stores.database_url.replace("postgresql+asyncpg", "postgresql")

        async def alter() -> None:
            connection = await asyncpg.connect(url)
            try:
                await connection.execute(statement)
            finally:
                await connection.close()

        asyncio.run(alter())

    def __enter__(self) -> None:
        self._alter(self.table, f"{self.table}_away")

    def __exit__(self, *_: object) -> None:
        self._alter(f"{self.table}_away", self.table)


# --- After a 500, the connection is closed, on a real uvicorn process ------------------------


@pytest.fixture(scope="module")
def gateway_process(
    sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[int, Path]]:
    directory = tmp_path_factory.mktemp("keepalive")
    with running_gateway(sandbox, directory) as gateway:
        yield int(gateway.url.rsplit(":", 1)[1]), directory / "gateway.sqlite3"


def _request(connection: socket.socket, body: bytes) -> None:
    digest = hmac.new(WEBHOOK_SECRETS["swiftparcel"].encode(), body, hashlib.sha256).hexdigest()
    headers = {"content-type": "application/json", "X-Swift-Signature": digest}
    head = (
        "POST /webhooks/swiftparcel HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n"
        + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        + f"Content-Length: {len(body)}\r\n\r\n"
    )
    connection.sendall(head.encode() + body)


def _response(connection: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        assert chunk, f"connection closed before a full response: {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    length = int(headers["content-length"])
    while len(rest) < length:
        chunk = connection.recv(65536)
        assert chunk, "connection closed in the middle of the body"
        rest += chunk
    return int(status_line.split()[1]), headers, rest[:length]


def test_after_a_500_the_server_closes_the_keep_alive_connection(gateway_process) -> None:
    port, database = gateway_process
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        _request(connection, encoded(swift()))
        status, headers, _ = _response(connection)
        assert status == 202 and headers.get("connection") != "close"
        with _table_renamed(database, "dead_letters"):  # a malformed body cannot be kept
            _request(connection, b"{not json")
            status, headers, body = _response(connection)
        assert status == 500, body
        assert headers.get("connection") == "close"
        problem = json.loads(body)
        assert problem["error"] == "internal" and problem["correlation_id"]
        assert not any(marker.encode() in body for marker in LEAK_MARKERS), body
        assert connection.recv(1) == b"", "the server kept the connection open after a 500"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        _request(connection, b"{not json")
        status, _, _ = _response(connection)
        assert status == 400  # a fresh connection is served normally again
