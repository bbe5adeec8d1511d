"""Return authorizations (ERP) and return receipts (WMS) to and from the canonical model.

Properties: every record in the backend's format maps to the canonical value it describes;
a canonical request written in the backend's format reads back the same; anything else a
backend could send is a `MalformedPayload` naming the field, never another exception; and one
return's status never moves backwards, whatever the WMS adds to what the ERP says.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.returns import (
    RETURN_PROGRESS,
    Disposition,
    ReceiptLine,
    RequestedReturnLine,
    ReturnReason,
    ReturnReceipt,
    ReturnRequest,
    ReturnStatus,
    return_status,
)
from domain.storable import check_json
from domain.units import Quantity, UnitOfMeasure
from system_apis.erp.returns import (
    RETURN_REASON,
    RETURN_STATUS,
    QuantityExceedsShipped,
    ReturnWindowClosed,
    authorization_from_payload,
    authorization_payload,
    return_from_erp,
    return_refusal,
    return_request_to_erp,
)
from system_apis.errors import BackendNotFound, BackendRejected, MalformedPayload
from system_apis.wms.returns import (
    CONDITIONS,
    AlreadyReceived,
    receipt_from_payload,
    receipt_from_wms,
    receipt_payload,
    receipt_refusal,
    receipt_to_wms,
)
from system_apis.wms.webhooks import parse_wms_webhook

keys = st.text("ABCDEFGHKMRSTW0123456789-", min_size=1, max_size=12)
whole = st.integers(min_value=1, max_value=100_000)
units = st.sampled_from([u.value for u in UnitOfMeasure])
instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
offsets = st.sampled_from(["+00:00", "+01:00", "-05:00", "+05:30"])


@st.composite
def erp_items(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "pos": draw(st.integers(1, 999)) * 10,
        "ref_pos": draw(st.integers(1, 999)) * 10,
        "material": draw(keys),
        "qty": str(draw(whole)),
        "uom": draw(units),
        "reason_code": draw(st.sampled_from(sorted(RETURN_REASON))),
    }


@st.composite
def erp_return_orders(draw: st.DrawFn) -> dict[str, Any]:
    created = draw(instants).replace(tzinfo=None).isoformat() + draw(offsets)
    return {
        "rma_no": draw(keys),
        "ref_doc": draw(keys),
        "sold_to": draw(keys),
        "plant": draw(st.sampled_from(["WH-AMS", "WH-RTM", "WH-CHI"])),
        "status": draw(st.sampled_from(sorted(RETURN_STATUS))),
        "created_at": created,
        "carrier_tracking": draw(st.none() | keys),
        "items": draw(st.lists(erp_items(), min_size=1, max_size=5)),
        "changed_at": created,
    }


@given(erp_return_orders())
@settings(max_examples=50, deadline=None)
def test_every_erp_return_order_maps_field_for_field(record: dict[str, Any]) -> None:
    authorization = return_from_erp(record)
    assert (authorization.rma_id, authorization.order_id, authorization.customer_id) == (
        record["rma_no"],
        record["ref_doc"],
        record["sold_to"],
    )
    assert authorization.status is RETURN_STATUS[record["status"]]
    assert authorization.authorized_at == datetime.fromisoformat(record["created_at"])
    assert authorization.warehouse_id == record["plant"]
    assert authorization.tracking_number == record["carrier_tracking"]
    assert [
        (line.order_line, line.sku, line.quantity.value, line.quantity.unit.value, line.reason)
        for line in authorization.lines
    ] == [
        (i["ref_pos"], i["material"], Decimal(i["qty"]), i["uom"], RETURN_REASON[i["reason_code"]])
        for i in record["items"]
    ]


requested_lines = st.builds(
    RequestedReturnLine,
    order_line=st.integers(1, 99_999),
    quantity=st.decimals(min_value=1, max_value=1_000_000, places=0),
    reason=st.sampled_from(list(ReturnReason)),
)


@given(st.builds(ReturnRequest, keys, keys, st.lists(requested_lines, min_size=1).map(tuple)))
def test_a_return_request_reads_back_the_same_from_the_erps_words(request: ReturnRequest) -> None:
    body = json.loads(json.dumps(return_request_to_erp(request)))
    assert (body["ref_doc"], body["sold_to"]) == (request.order_id, request.customer_id)
    read_back = tuple(
        RequestedReturnLine(
            item["ref_pos"], Decimal(item["qty"]), RETURN_REASON[item["reason_code"]]
        )
        for item in body["items"]
    )
    assert read_back == request.lines
    assert all("E" not in item["qty"] for item in body["items"]), "plain decimals only"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)


@given(
    erp_return_orders(),
    st.sampled_from(["rma_no", "status", "created_at", "items", "qty"]),
    json_values,
)
@settings(max_examples=60, deadline=None)
def test_an_erp_record_off_contract_is_malformed_never_another_error(
    record: dict[str, Any], key: str, value: Any
) -> None:
    if key == "qty":
        record["items"][0]["qty"] = value
    else:
        record[key] = value
    try:
        return_from_erp(record)
    except MalformedPayload as error:
        assert error.reason.startswith("return_order")


@st.composite
def wms_receipts(draw: st.DrawFn, inspected: bool | None = None) -> dict[str, Any]:
    done = draw(st.booleans()) if inspected is None else inspected
    received = draw(instants)
    return {
        "receipt_id": draw(keys),
        "rma_ref": draw(keys),
        "owner": draw(keys),
        "warehouse": draw(st.sampled_from(["WH-AMS", "WH-RTM"])),
        "state": "inspected" if done else "received",
        "received_at": received.isoformat().replace("+00:00", "Z"),
        "inspected_at": (received + timedelta(hours=1)).isoformat() if done else None,
        "lines": [
            {
                "line": index + 1,
                "sku": draw(keys),
                "qty": draw(whole),
                "uom": draw(units),
                "condition": draw(st.sampled_from(sorted(CONDITIONS))) if done else None,
                "bin": draw(st.sampled_from(["RET-01", "QC-01"])) if done else None,
            }
            for index in range(draw(st.integers(1, 4)))
        ],
    }


@given(wms_receipts())
@settings(max_examples=50, deadline=None)
def test_every_wms_receipt_maps_and_its_payload_is_storable(record: dict[str, Any]) -> None:
    receipt = receipt_from_wms(record)
    inspected = record["state"] == "inspected"
    assert receipt.inspected is inspected
    assert (receipt.rma_id, receipt.customer_id, receipt.warehouse_id) == (
        record["rma_ref"],
        record["owner"],
        record["warehouse"],
    )
    assert [(line.sku, line.quantity.value, line.disposition) for line in receipt.lines] == [
        (line["sku"], Decimal(line["qty"]), CONDITIONS[line["condition"]] if inspected else None)
        for line in record["lines"]
    ]
    payload = receipt_payload(receipt)
    check_json("payload", payload)
    assert payload["status"] == receipt.status().value
    restocked = any(line["condition"] == "sellable" for line in record["lines"])
    expected = (
        (ReturnStatus.RESTOCKED if restocked else ReturnStatus.WRITTEN_OFF)
        if inspected
        else ReturnStatus.RECEIVED
    )
    assert receipt.status() is expected


@given(wms_receipts(inspected=True))
@settings(max_examples=50, deadline=None)
def test_a_graded_receipt_written_for_the_wms_reads_back_the_same(record: dict[str, Any]) -> None:
    receipt = receipt_from_wms(record)
    body = receipt_to_wms(receipt.rma_id, "C-1", receipt.warehouse_id, receipt.lines)
    assert (body["rma_ref"], body["owner"], body["warehouse"]) == (
        receipt.rma_id,
        "C-1",
        receipt.warehouse_id,
    )
    assert [
        (line["sku"], line["qty"], CONDITIONS[line["condition"]]) for line in body["lines"]
    ] == [(line.sku, int(line.quantity.value), line.disposition) for line in receipt.lines]


@given(
    wms_receipts(),
    st.sampled_from(["state", "received_at", "inspected_at", "lines", "qty", "condition"]),
    json_values,
)
@settings(max_examples=60, deadline=None)
def test_a_wms_receipt_off_contract_is_malformed_never_another_error(
    record: dict[str, Any], key: str, value: Any
) -> None:
    if key in ("qty", "condition"):
        record["lines"][0][key] = value
    else:
        record[key] = value
    try:
        receipt_from_wms(record)
    except MalformedPayload as error:
        assert error.reason.startswith("receipt")


def test_an_ungraded_line_is_never_sent_to_the_dock() -> None:
    line = ReceiptLine("MAT-1", Quantity(Decimal(1), UnitOfMeasure.EACH))
    with pytest.raises(ValueError, match="needs a disposition"):
        receipt_to_wms("RMA-1", "C-1", "WH-AMS", [line])


receipts = st.builds(
    ReturnReceipt,
    receipt_id=keys,
    rma_id=keys,
    warehouse_id=keys,
    received_at=instants,
    lines=st.lists(
        st.builds(
            ReceiptLine,
            sku=keys,
            quantity=st.builds(Quantity, whole.map(Decimal), st.just(UnitOfMeasure.EACH)),
            disposition=st.none() | st.sampled_from(list(Disposition)),
        ),
        min_size=1,
        max_size=3,
    ).map(tuple),
    inspected_at=st.none() | instants,
)


@given(st.sampled_from(list(ReturnStatus)), st.none() | receipts)
@settings(max_examples=60)
def test_a_return_never_moves_backwards_and_a_rejection_stands(
    authorized: ReturnStatus, receipt: ReturnReceipt | None
) -> None:
    status = return_status(authorized, receipt)
    assert RETURN_PROGRESS[status] >= RETURN_PROGRESS[authorized]
    if authorized is ReturnStatus.REJECTED:
        assert status is ReturnStatus.REJECTED
    if receipt is not None and authorized in (ReturnStatus.AUTHORIZED, ReturnStatus.IN_TRANSIT):
        assert status is receipt.status()


def rejected(status: int, reason: str, details: Any) -> BackendRejected:
    return BackendRejected(
        "erp", "create return order", status_code=status, reason=reason, details=details
    )


def test_the_erps_refusals_become_typed_errors() -> None:
    closed = return_refusal(
        rejected(409, "return_window_closed", [{"field": "ref_doc", "closed_on": "2026-11-10"}])
    )
    assert isinstance(closed, ReturnWindowClosed) and closed.closed_on == date(2026, 11, 10)
    exceeding = return_refusal(
        rejected(
            409,
            "qty_exceeds_shipped",
            [
                {
                    "ref_pos": 20,
                    "material": "MAT-1",
                    "shipped": "4",
                    "returned": "3",
                    "requested": "2",
                }
            ],
        )
    )
    assert isinstance(exceeding, QuantityExceedsShipped)
    (shortfall,) = exceeding.shortfalls
    assert (shortfall.order_line, shortfall.shipped, shortfall.already_returned) == (20, 4, 3)
    missing = BackendNotFound("erp", "x", status_code=404, reason="not_found")
    assert return_refusal(missing) is missing


@given(st.sampled_from(["return_window_closed", "qty_exceeds_shipped", "conflict"]), json_values)
def test_a_refusal_with_details_off_contract_stays_a_plain_rejection(
    reason: str, details: Any
) -> None:
    error = return_refusal(rejected(409, reason, details))
    assert isinstance(error, BackendRejected)
    if reason == "conflict":
        assert type(error) is BackendRejected


def test_the_wms_refusing_a_second_receipt_is_already_received() -> None:
    refused = BackendRejected(
        "wms", "receive return", status_code=409, reason="already_received",
        details=[{"field": "rma_ref", "receipt_id": "RR-900001"}],
    )  # fmt: skip
    error = receipt_refusal(refused)
    assert isinstance(error, AlreadyReceived) and error.receipt_id == "RR-900001"


SECRET = "wms-secret"
NOW = datetime(2026, 11, 20, 14, 5, tzinfo=UTC)


def signed_event(kind: str, data: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {"event_id": "evt_r1", "type": kind, "occurred_at": "2026-11-20T14:03:00Z",
         "warehouse": data["warehouse"], "data": data}
    ).encode()  # fmt: skip
    timestamp = str(int(NOW.timestamp()))
    digest = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    headers = {
        "X-WMS-Event": kind, "X-WMS-Delivery": "dlv_r1", "X-WMS-Timestamp": timestamp,
        "X-WMS-Signature": f"sha256={digest.hexdigest()}",
    }  # fmt: skip
    return body, headers


RECEIPT = {
    "receipt_id": "RR-900010", "rma_ref": "RMA-400010", "owner": "C-1001", "warehouse": "WH-AMS",
    "state": "inspected", "received_at": "2026-11-20T14:00:00Z",
    "inspected_at": "2026-11-20T14:02:00Z",
    "lines": [
        {"line": 1, "sku": "MAT-0025", "qty": 2, "uom": "EA", "condition": "sellable",
         "bin": "RET-01"},
        {"line": 2, "sku": "MAT-0026", "qty": 1, "uom": "EA", "condition": "damaged",
         "bin": "QC-01"},
    ],
}  # fmt: skip


def test_return_events_are_about_the_return_and_name_its_customer() -> None:
    body, headers = signed_event("return.inspected", RECEIPT)
    envelope = parse_wms_webhook(body, headers, SECRET, now=NOW)
    assert (envelope.event_type, envelope.aggregate_type, envelope.aggregate_id) == (
        "return.inspected",
        "Return",
        "RMA-400010",
    )
    assert envelope.tenant_id == "C-1001" and envelope.event_id == "WMS:evt_r1"
    assert envelope.payload["status"] == "RESTOCKED"
    assert [line["disposition"] for line in envelope.payload["lines"]] == ["RESTOCK", "WRITE_OFF"]


def test_a_received_event_carries_no_grades_yet() -> None:
    received = {**RECEIPT, "state": "received", "inspected_at": None}
    body, headers = signed_event("return.received", received)
    envelope = parse_wms_webhook(body, headers, SECRET, now=NOW)
    assert envelope.payload["status"] == "RECEIVED"
    assert {line["disposition"] for line in envelope.payload["lines"]} == {None}


def test_an_inspected_event_without_inspection_is_malformed() -> None:
    body, headers = signed_event(
        "return.inspected", {**RECEIPT, "state": "received", "inspected_at": None}
    )
    with pytest.raises(MalformedPayload, match="must be inspected"):
        parse_wms_webhook(body, headers, SECRET, now=NOW)


@given(erp_return_orders())
@settings(max_examples=40, deadline=None)
def test_an_authorization_reads_back_the_same_from_its_event_payload(
    record: dict[str, Any],
) -> None:
    authorization = return_from_erp(record)
    payload = json.loads(json.dumps(authorization_payload(authorization)))
    assert authorization_from_payload(payload) == authorization


@given(wms_receipts())
@settings(max_examples=40, deadline=None)
def test_a_receipt_reads_back_the_same_from_its_event_payload(record: dict[str, Any]) -> None:
    receipt = receipt_from_wms(record)
    payload = json.loads(json.dumps(receipt_payload(receipt)))
    assert receipt_from_payload(payload) == receipt
