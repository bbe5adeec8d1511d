"""Properties of the carrier status mappings together with the domain's current-status rule.

Every carrier code each mapping knows maps to a canonical status, any other code is an
`UnknownStatusCode` (kept for replay), and the status a shipment shows does not depend on the
order its events arrived in: a DELIVERED stays DELIVERED whatever IN_TRANSIT arrives after it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import Milestone, MilestoneStatus, current_milestone
from system_apis.errors import UnknownStatusCode
from system_apis.heritage import mapping as heritage
from system_apis.heritage.inbound import parse_x12_214
from system_apis.roadline import mapping as roadline
from system_apis.swiftparcel import mapping as swiftparcel
from tests.system_apis.x12_samples import Shipment, Status, interchange

START = datetime(2026, 11, 1, tzinfo=UTC)


def swift(code: str, at: datetime, tracking: str = "SP0000000001") -> Milestone:
    event = {"code": code, "timestamp": at.isoformat(), "description": code}
    return swiftparcel.milestone_from_swift(tracking, event)


def road(code: str, at: datetime, tracking: str = "RL000000001") -> Milestone:
    local = at.astimezone(ZoneInfo("America/Chicago"))
    row = {
        "status": code,
        "statusDateTime": local.strftime("%Y-%m-%d %H:%M:%S"),
        "timeZone": "America/Chicago",
    }
    return roadline.milestone_from_roadline(tracking, row)


def x12(code: str, at: datetime, tracking: str = "HF00000001") -> Milestone:
    moment = at.astimezone(UTC)
    status = Status(
        code=code, date=moment.strftime("%Y%m%d"), time=moment.strftime("%H%M"), time_code="UT"
    )
    (milestone,) = parse_x12_214(interchange([Shipment(tracking_number=tracking,
                                                       loops=((status,),))]))  # fmt: skip
    return milestone


CARRIERS: dict[str, tuple[Callable[[str, datetime], Milestone], dict]] = {
    "SWFT": (swift, dict(swiftparcel.STATUS)),
    "RDLN": (road, dict(roadline.STATUS)),
    "HRTG": (x12, dict(heritage.STATUS)),
}


@pytest.mark.parametrize("carrier", sorted(CARRIERS))
def test_every_known_code_maps_and_keeps_the_carriers_code(carrier: str) -> None:
    make, table = CARRIERS[carrier]
    for code, status in table.items():
        milestone = make(code, START)
        assert (milestone.status, milestone.carrier_code, milestone.carrier) == (
            status,
            code,
            carrier,
        )


def test_the_carrier_codes_in_the_backends_contract_are_all_mapped() -> None:
    assert set(swiftparcel.STATUS) == {"MR", "PU", "IT", "AR", "OD", "DL", "NA", "HP", "EX", "RS"}
    assert set(roadline.STATUS) == {
        "DISPATCHED", "PICKED_UP", "AT_TERMINAL", "IN_LINEHAUL", "OUT_FOR_DELIVERY",
        "DELIVERED", "APPOINTMENT_MISSED", "DAMAGED", "REFUSED", "RETURNED",
    }  # fmt: skip
    assert {"X3", "AF", "X6", "X1", "AG", "D1", "A7", "A9", "SD", "AP"} <= set(heritage.STATUS)


@settings(max_examples=150, deadline=None)
@given(
    carrier=st.sampled_from(sorted(CARRIERS)),
    code=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", min_size=1, max_size=12),
)
def test_unknown_codes_raise_unknown_status_code(carrier: str, code: str) -> None:
    make, table = CARRIERS[carrier]
    if code in table:
        return
    with pytest.raises(UnknownStatusCode) as raised:
        make(code, START)
    assert raised.value.code == code


def histories(carrier: str) -> st.SearchStrategy[list[Milestone]]:
    make, table = CARRIERS[carrier]
    event = st.tuples(st.sampled_from(sorted(table)), st.integers(0, 60 * 24 * 20))
    return st.lists(event, min_size=1, max_size=8, unique_by=lambda e: e[1]).map(
        lambda events: [make(code, START + timedelta(minutes=m)) for code, m in events]
    )


@st.composite
def history_and_permutation(draw: st.DrawFn) -> tuple[list[Milestone], list[Milestone]]:
    history = draw(histories(draw(st.sampled_from(sorted(CARRIERS)))))
    return history, draw(st.permutations(history))


@settings(max_examples=150, deadline=None)
@given(history_and_permutation())
def test_current_status_does_not_depend_on_arrival_order(
    pair: tuple[list[Milestone], list[Milestone]],
) -> None:
    history, shuffled = pair
    assert current_milestone(shuffled) == current_milestone(history)


IN_TRANSIT_CODES = {"SWFT": ["PU", "IT", "AR"], "RDLN": ["PICKED_UP", "IN_LINEHAUL"],
                    "HRTG": ["AF", "X6"]}  # fmt: skip
DELIVERED_CODES = {"SWFT": "DL", "RDLN": "DELIVERED", "HRTG": "D1"}


@settings(max_examples=150, deadline=None)
@given(data=st.data(), carrier=st.sampled_from(sorted(CARRIERS)))
def test_a_late_in_transit_never_replaces_delivered(data: st.DataObject, carrier: str) -> None:
    make, _ = CARRIERS[carrier]
    history = data.draw(histories(carrier))
    delivered_at = data.draw(st.integers(0, 60 * 24 * 20))
    history.append(make(DELIVERED_CODES[carrier], START + timedelta(minutes=delivered_at)))
    before = current_milestone(history)
    assert before is not None
    if before.status is not MilestoneStatus.DELIVERED:
        return  # a RETURNED outranks DELIVERED; that is progress, not a regression
    late = [
        make(code, START + timedelta(minutes=minute))
        for code, minute in data.draw(
            st.lists(
                st.tuples(st.sampled_from(IN_TRANSIT_CODES[carrier]), st.integers(0, 60 * 24 * 40)),
                min_size=1,
                max_size=4,
            )
        )
    ]
    assert all(m.status is MilestoneStatus.IN_TRANSIT for m in late)
    after = current_milestone([*history, *late])
    assert after is not None and after.status is MilestoneStatus.DELIVERED
