"""SwiftParcel and RoadLine payloads to canonical milestones; SwiftParcel's signed webhook."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest

from domain import MilestoneStatus
from system_apis.errors import InvalidSignature, MalformedPayload, UnknownStatusCode
from system_apis.milestones import milestone_envelope, milestone_from_payload
from system_apis.roadline.mapping import (
    milestone_from_roadline,
    milestones_from_shipment,
    milestones_from_status_updates,
)
from system_apis.swiftparcel.mapping import milestone_from_swift, milestones_from_tracking
from system_apis.swiftparcel.webhooks import parse_swiftparcel_webhook

SWIFT_EVENT = {
    "id": "ev_1", "code": "DL", "description": "Delivered, front door",
    "timestamp": "2026-11-20T14:03:00Z", "location": {"city": "Utrecht", "country": "NL"},
    "reason": None,
}  # fmt: skip
ROADLINE_ROW = {
    "seq": 12, "status": "PICKED_UP", "statusDateTime": "2026-11-20 08:03:00",
    "timeZone": "America/Chicago", "terminal": "CHI", "remarks": "Freight picked up",
}  # fmt: skip


def test_swift_event_keeps_the_carriers_code_text_and_id() -> None:
    milestone = milestone_from_swift("SP0000000001", SWIFT_EVENT)
    assert milestone.status is MilestoneStatus.DELIVERED
    assert (milestone.carrier, milestone.carrier_code) == ("SWFT", "DL")
    assert milestone.carrier_description == "Delivered, front door"
    assert milestone.event_id == "SWFT:ev_1"
    assert (milestone.city, milestone.country) == ("Utrecht", "NL")
    assert milestone.occurred_at == datetime(2026, 11, 20, 14, 3, tzinfo=UTC)


def test_swift_event_without_id_gets_a_stable_derived_one() -> None:
    event = {**SWIFT_EVENT, "id": None}
    first = milestone_from_swift("SP0000000001", event)
    again = milestone_from_swift("SP0000000001", {**event, "description": "other text"})
    later = milestone_from_swift("SP0000000001", {**event, "timestamp": "2026-11-20T14:04:00Z"})
    assert first.event_id == again.event_id != later.event_id


def test_swift_exception_keeps_its_reason() -> None:
    milestone = milestone_from_swift("SP1", {**SWIFT_EVENT, "code": "EX", "reason": "CUSTOMS_HOLD"})
    assert milestone.status is MilestoneStatus.EXCEPTION and milestone.reason == "CUSTOMS_HOLD"


def test_swift_unknown_code_is_an_unknown_status_code() -> None:
    with pytest.raises(UnknownStatusCode, match=r"'ZZ' at event\.code") as raised:
        milestone_from_swift("SP1", {**SWIFT_EVENT, "code": "ZZ"})
    assert raised.value.code == "ZZ"


def test_swift_tracking_answer_lists_every_event() -> None:
    answer = {"trackingNumber": "SP1", "service": "EXPRESS",
              "events": [{**SWIFT_EVENT, "id": "a", "code": "MR"}, SWIFT_EVENT]}  # fmt: skip
    statuses = [m.status for m in milestones_from_tracking(answer)]
    assert statuses == [MilestoneStatus.INFO_RECEIVED, MilestoneStatus.DELIVERED]


def swift_body(event: dict) -> bytes:
    return json.dumps({"trackingNumber": "SP0000000001", "event": event}).encode()


def test_swift_webhook_with_a_good_signature_gives_its_milestone() -> None:
    body = swift_body(SWIFT_EVENT)
    signature = hmac.new(b"s3", body, hashlib.sha256).hexdigest()
    (milestone,) = parse_swiftparcel_webhook(body, {"x-swift-signature": signature}, "s3")
    assert milestone.tracking_number == "SP0000000001"


def test_swift_webhook_with_a_bad_or_missing_signature_is_refused() -> None:
    body = swift_body(SWIFT_EVENT)
    with pytest.raises(InvalidSignature):
        parse_swiftparcel_webhook(body, {"X-Swift-Signature": "00" * 32}, "s3")
    with pytest.raises(InvalidSignature):
        parse_swiftparcel_webhook(body, {}, "s3")


def test_swift_webhook_with_a_bad_timestamp_names_the_field() -> None:
    body = swift_body({**SWIFT_EVENT, "timestamp": "yesterday"})
    signature = hmac.new(b"s3", body, hashlib.sha256).hexdigest()
    with pytest.raises(MalformedPayload, match=r"body\.event\.timestamp"):
        parse_swiftparcel_webhook(body, {"X-Swift-Signature": signature}, "s3")


def test_roadline_local_time_is_read_in_the_terminals_zone() -> None:
    milestone = milestone_from_roadline("RL000000001", ROADLINE_ROW)
    assert milestone.occurred_at.utcoffset() == timedelta(hours=-6)
    assert milestone.occurred_at.astimezone(UTC) == datetime(2026, 11, 20, 14, 3, tzinfo=UTC)
    assert milestone.status is MilestoneStatus.IN_TRANSIT
    assert milestone.carrier_description == "Freight picked up (terminal CHI)"


def test_roadline_summer_time_uses_daylight_offset() -> None:
    row = {**ROADLINE_ROW, "statusDateTime": "2026-07-01 08:00:00"}
    assert milestone_from_roadline("RL1", row).occurred_at.utcoffset() == timedelta(hours=-5)


def test_roadline_resent_row_with_a_new_seq_dedupes() -> None:
    first = milestone_from_roadline("RL1", ROADLINE_ROW)
    resent = milestone_from_roadline("RL1", {**ROADLINE_ROW, "seq": 99})
    assert first.event_id == resent.event_id


def test_roadline_unknown_zone_is_malformed() -> None:
    with pytest.raises(MalformedPayload, match=r"status\.timeZone: unknown time zone"):
        milestone_from_roadline("RL1", {**ROADLINE_ROW, "timeZone": "Mars/Olympus"})


def test_roadline_shipment_history_maps_in_order() -> None:
    answer = {"pro": "RL1", "shipper_ref": "SO-1", "pieces": 4, "weight_lb": 812,
              "history": [{**ROADLINE_ROW, "status": "DISPATCHED"}, ROADLINE_ROW]}  # fmt: skip
    assert [m.carrier_code for m in milestones_from_shipment(answer)] == [
        "DISPATCHED",
        "PICKED_UP",
    ]


def test_roadline_feed_sets_bad_rows_apart_and_still_moves_the_cursor() -> None:
    answer = {
        "updates": [
            {**ROADLINE_ROW, "pro": "RL1"},
            {**ROADLINE_ROW, "pro": "RL2", "status": "TELEPORTED"},
            {**ROADLINE_ROW, "pro": "RL3", "statusDateTime": "noon"},
        ],
        "cursor": "15",
    }
    batch = milestones_from_status_updates(answer)
    assert [m.tracking_number for m in batch.milestones] == ["RL1"]
    assert [type(r.error).__name__ for r in batch.rejected] == [
        "UnknownStatusCode",
        "MalformedPayload",
    ]
    assert b"TELEPORTED" in batch.rejected[0].raw
    assert "updates.updates[2].statusDateTime" in batch.rejected[1].reason
    assert batch.cursor == "15"


def test_milestone_envelope_round_trips_through_its_json_payload() -> None:
    milestone = milestone_from_roadline("RL1", ROADLINE_ROW)
    received = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    envelope = milestone_envelope(milestone, received_at=received, correlation_id="c")
    assert envelope.event_id == milestone.event_id and envelope.aggregate_id == "RL1"
    restored = milestone_from_payload(json.loads(json.dumps(dict(envelope.payload))))
    assert restored == milestone
