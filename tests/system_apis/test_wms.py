"""WMS positions and tasks to canonical types, and its signed webhooks to events."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain import InventoryState, Location, SourceSystem
from system_apis.errors import InvalidSignature, MalformedPayload, UnknownStatusCode
from system_apis.wms.mapping import adjustment_to_wms, position_from_wms, task_from_wms
from system_apis.wms.models import AdjustmentReason, TaskState, TaskType
from system_apis.wms.webhooks import parse_wms_webhook

POSITION = {
    "warehouse": "WH-AMS", "bin": "A-01-03", "sku": "MAT-0012", "on_hand": 40, "allocated": 4,
    "quarantine": 1, "in_transit": 12, "returned": 2, "uom": "EA",
    "updated": "2026-11-20T14:03:00Z",
}  # fmt: skip
TASK = {
    "task_id": "T-200001", "type": "PICK", "order_ref": "SO-100042", "warehouse": "WH-AMS",
    "bin": "A-01-03", "sku": "MAT-0012", "qty": 4, "state": "done",
    "done_at": "2026-11-20T14:03:00Z",
}  # fmt: skip
SECRET = "wms-secret"
NOW = datetime(2026, 11, 20, 14, 5, tzinfo=UTC)


def test_position_keeps_every_inventory_state_apart() -> None:
    position = position_from_wms(POSITION)
    assert position.location == Location("WH-AMS", "A-01-03")
    quantities = {state: position.quantity(state).value for state in InventoryState}
    assert quantities == {
        InventoryState.ON_HAND: Decimal(40),
        InventoryState.ALLOCATED: Decimal(4),
        InventoryState.AVAILABLE_TO_PROMISE: Decimal(36),
        InventoryState.IN_TRANSIT: Decimal(12),
        InventoryState.QUARANTINED: Decimal(1),
        InventoryState.RETURNED: Decimal(2),
    }
    assert position.updated_at == datetime(2026, 11, 20, 14, 3, tzinfo=UTC)


def test_negative_stock_count_is_malformed() -> None:
    with pytest.raises(MalformedPayload, match=r"position\.on_hand: a stock count cannot be"):
        position_from_wms({**POSITION, "on_hand": -1})


def test_task_maps_type_state_and_location() -> None:
    task = task_from_wms(TASK)
    assert (task.task_type, task.state, task.order_id) == (
        TaskType.PICK,
        TaskState.DONE,
        "SO-100042",
    )
    assert task.quantity == Decimal(4) and task.location.bin == "A-01-03"


def test_adjustment_request_uses_the_wms_field_names() -> None:
    body = adjustment_to_wms(
        Location("WH-AMS", "A-01-03"), "MAT-0012", -2, AdjustmentReason.DAMAGED
    )
    assert body == {
        "warehouse": "WH-AMS", "bin": "A-01-03", "sku": "MAT-0012", "delta": -2,
        "reason": "DAMAGED",
    }  # fmt: skip


def test_fractional_adjustment_is_refused_before_sending() -> None:
    with pytest.raises(ValueError, match="whole units"):
        adjustment_to_wms(Location("W", "B"), "S", Decimal("1.5"), AdjustmentReason.COUNT)


def signed(body: bytes, *, at: datetime = NOW, secret: str = SECRET) -> dict[str, str]:
    timestamp = str(int(at.timestamp()))
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return {
        "X-WMS-Event": "inventory.adjusted",
        "X-WMS-Delivery": "dlv_1",
        "X-WMS-Timestamp": timestamp,
        "X-WMS-Signature": f"sha256={digest.hexdigest()}",
    }


def event(kind: str, data: dict) -> bytes:
    return json.dumps(
        {"event_id": "evt_1", "type": kind, "occurred_at": "2026-11-20T14:03:00Z",
         "warehouse": "WH-AMS", "data": data}
    ).encode()  # fmt: skip


def test_signed_inventory_event_becomes_a_canonical_envelope() -> None:
    body = event("inventory.adjusted", {**POSITION, "delta": -2, "reason": "DAMAGED"})
    envelope = parse_wms_webhook(body, signed(body), SECRET, now=NOW, correlation_id="c-1")
    assert (envelope.event_id, envelope.event_type, envelope.source) == (
        "WMS:evt_1",
        "inventory.adjusted",
        SourceSystem.WMS,
    )
    assert envelope.aggregate_id == "WH-AMS/A-01-03/MAT-0012"
    assert envelope.payload["quarantined"] == "1" and envelope.payload["delta"] == "-2"
    assert envelope.payload["available_to_promise"] == "36"
    assert envelope.payload["delivery_id"] == "dlv_1"
    assert envelope.received_at == NOW and envelope.correlation_id == "c-1"
    json.dumps(dict(envelope.payload))  # the event log stores it as JSON


def test_header_names_are_matched_without_regard_to_case() -> None:
    body = event("task.completed", TASK)
    headers = {name.lower(): value for name, value in signed(body).items()}
    envelope = parse_wms_webhook(body, headers, SECRET, now=NOW)
    assert envelope.aggregate_type == "PickTask" and envelope.aggregate_id == "T-200001"


def test_dispatch_event_is_about_the_shipment() -> None:
    body = event(
        "shipment.dispatched",
        {"order_ref": "SO-1", "tracking_number": "SP0000000001", "carrier": "SWFT"},
    )
    envelope = parse_wms_webhook(body, signed(body), SECRET, now=NOW)
    assert (envelope.aggregate_type, envelope.aggregate_id) == ("Shipment", "SP0000000001")


def test_a_changed_body_fails_the_signature() -> None:
    body = event("task.completed", TASK)
    headers = signed(body)
    with pytest.raises(InvalidSignature, match="does not match"):
        parse_wms_webhook(body.replace(b"PICK", b"PACK"), headers, SECRET, now=NOW)


def test_the_wrong_secret_fails_the_signature() -> None:
    body = event("task.completed", TASK)
    with pytest.raises(InvalidSignature):
        parse_wms_webhook(body, signed(body, secret="other"), SECRET, now=NOW)


@pytest.mark.parametrize("offset", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_timestamps_outside_the_tolerance_are_refused(offset: timedelta) -> None:
    body = event("task.completed", TASK)
    with pytest.raises(InvalidSignature, match="outside the accepted window"):
        parse_wms_webhook(body, signed(body, at=NOW + offset), SECRET, now=NOW)


def test_timestamp_inside_the_tolerance_is_accepted() -> None:
    body = event("task.completed", TASK)
    parse_wms_webhook(body, signed(body, at=NOW - timedelta(minutes=4)), SECRET, now=NOW)


def test_missing_signature_headers_are_refused() -> None:
    with pytest.raises(InvalidSignature, match="missing"):
        parse_wms_webhook(b"{}", {}, SECRET, now=NOW)


def test_unknown_event_type_is_kept_for_replay_not_dropped() -> None:
    body = event("wave.released", {})
    with pytest.raises(UnknownStatusCode) as raised:
        parse_wms_webhook(body, signed(body), SECRET, now=NOW)
    assert raised.value.code == "wave.released"


def test_body_that_is_not_json_is_malformed() -> None:
    body = b"{not json"
    with pytest.raises(MalformedPayload, match="body: not JSON"):
        parse_wms_webhook(body, signed(body), SECRET, now=NOW)


def test_event_data_off_contract_names_the_field() -> None:
    body = event("task.completed", {**TASK, "type": "LOAD"})
    with pytest.raises(MalformedPayload, match=r"body\.data\.type: unknown value 'LOAD'"):
        parse_wms_webhook(body, signed(body), SECRET, now=NOW)
