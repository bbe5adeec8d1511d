"""The X12 reader and the 214 mapping on hand-written messages: delimiters, envelopes,
loops, time codes, and the error each broken part produces."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain import MilestoneStatus
from system_apis.errors import InvalidSignature, MalformedPayload, UnknownStatusCode
from system_apis.heritage.inbound import (
    parse_heritage_outbox,
    parse_heritage_push,
    parse_x12_214,
)
from system_apis.heritage.x12 import parse_interchange, render_interchange
from tests.system_apis.x12_samples import Shipment, Status, interchange


def test_standard_message_gives_one_located_milestone() -> None:
    (milestone,) = parse_x12_214(interchange())
    assert milestone.tracking_number == "HF12345678"
    assert milestone.status is MilestoneStatus.IN_TRANSIT
    assert (milestone.carrier, milestone.carrier_code) == ("HRTG", "X6")
    assert milestone.carrier_description == "En route to delivery location"
    assert milestone.reason is None  # NS: normal status
    assert (milestone.city, milestone.region, milestone.country) == ("Chicago", "IL", "US")
    assert milestone.occurred_at.astimezone(UTC) == datetime(2026, 11, 20, 14, 3, tzinfo=UTC)


def test_delimiters_are_read_from_the_isa_header() -> None:
    text = interchange(element="|", segment="\n")
    assert parse_x12_214(text) == parse_x12_214(interchange())


def test_whitespace_between_segments_is_tolerated() -> None:
    text = "\n  " + interchange(after_segment="\r\n") + "\n\n"
    assert parse_x12_214(text) == parse_x12_214(interchange())


def test_newline_terminated_message_may_omit_the_final_newline() -> None:
    text = interchange(element="|", segment="\n").rstrip("\n")
    assert len(parse_x12_214(text)) == 1


def test_several_sets_and_loops_give_every_status_in_order() -> None:
    first = Shipment(
        tracking_number="HF00000001",
        loops=(
            (Status(code="X3", time="0600"), Status(code="AF", time="0700")),
            (Status(code="X6", time="0900"),),
        ),
    )
    second = Shipment(tracking_number="HF00000002", loops=((Status(code="D1"),),))
    milestones = parse_x12_214(interchange([first, second]))
    assert [(m.tracking_number, m.carrier_code) for m in milestones] == [
        ("HF00000001", "X3"),
        ("HF00000001", "AF"),
        ("HF00000001", "X6"),
        ("HF00000002", "D1"),
    ]


def test_several_interchanges_one_after_another_each_with_its_delimiters() -> None:
    text = interchange(control=1) + "\n" + interchange(control=5, element="|", segment="\n")
    assert len(parse_x12_214(text)) == 2


@pytest.mark.parametrize(
    ("time_code", "offset"),
    [
        ("UT", timedelta(0)),
        ("CT", timedelta(hours=-6)),  # Central, standard time in November
        ("CS", timedelta(hours=-6)),
        ("CD", timedelta(hours=-5)),  # the sender says daylight: believed as sent
        ("ET", timedelta(hours=-5)),
        ("ED", timedelta(hours=-4)),
        ("PT", timedelta(hours=-8)),
        ("MS", timedelta(hours=-7)),
    ],
)
def test_time_codes_map_to_offsets(time_code: str, offset: timedelta) -> None:
    (milestone,) = parse_x12_214(interchange([Shipment(loops=((Status(time_code=time_code),),))]))
    assert milestone.occurred_at.utcoffset() == offset


def test_generic_zone_codes_follow_daylight_saving_on_the_date() -> None:
    status = Status(time_code="ET", date="20260701")
    (milestone,) = parse_x12_214(interchange([Shipment(loops=((status,),))]))
    assert milestone.occurred_at.utcoffset() == timedelta(hours=-4)


def test_local_time_uses_the_zone_of_the_ms1_state() -> None:
    status = Status(time_code="LT", city="Denver", state="CO")
    (milestone,) = parse_x12_214(interchange([Shipment(loops=((status,),))]))
    assert milestone.occurred_at.utcoffset() == timedelta(hours=-7)


def test_local_time_without_a_place_uses_the_carriers_home_zone() -> None:
    status = Status(time_code="LT", city=None)
    (default,) = parse_x12_214(interchange([Shipment(loops=((status,),))]))
    assert default.occurred_at.utcoffset() == timedelta(hours=-6)  # America/Chicago
    (chosen,) = parse_x12_214(
        interchange([Shipment(loops=((status,),))]), home_zone=ZoneInfo("America/New_York")
    )
    assert chosen.occurred_at.utcoffset() == timedelta(hours=-5)


def test_missing_time_code_counts_as_local_time() -> None:
    status = Status(time_code="", city="Seattle", state="WA")
    (milestone,) = parse_x12_214(interchange([Shipment(loops=((status,),))]))
    assert milestone.occurred_at.utcoffset() == timedelta(hours=-8)


def test_reason_other_than_normal_is_kept() -> None:
    status = Status(code="AP", reason="AH")
    (milestone,) = parse_x12_214(interchange([Shipment(loops=((status,),))]))
    assert milestone.status is MilestoneStatus.FAILED_ATTEMPT and milestone.reason == "AH"


def test_same_status_pushed_twice_gets_the_same_event_id() -> None:
    first = parse_x12_214(interchange(control=3))
    again = parse_x12_214(interchange(control=9))
    assert first[0].event_id == again[0].event_id


def test_unknown_status_code_is_named_with_its_position() -> None:
    text = interchange([Shipment(loops=((Status(code="Q9"),),))])
    with pytest.raises(UnknownStatusCode, match=r"'Q9' at segment 9 \(AT701\)") as raised:
        parse_x12_214(text)
    assert raised.value.code == "Q9"


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (("SE*10*0001", "SE*11*0001"), r"segment 12 \(SE01\): says '11' segments, there are 10"),
        (("SE*10*0001", "SE*10*0002"), r"SE02\): control number '0002' does not match '0001'"),
        (("GE*1*12", "GE*2*12"), r"GE01\): says '2' transaction sets, there are 1"),
        (("IEA*1*000000012", "IEA*1*000000013"), r"IEA02\): control number '000000013'"),
        (("20261120", "20261340"), r"AT705\): 20261340 0803 is not a real date"),
        (("*0803*", "*8:03*"), r"AT706\): time '8:03' is not HHMM"),
        (("*CT~", "*XX~"), r"AT707\): unknown time code 'XX'"),
        (("GS*QM", "GS*IM"), r"GS01\): functional id 'IM'"),
        (("ST*214", "ST*210"), r"ST01 is '210', expected 214"),
        (("LX*1~", ""), r"AT7 outside an LX loop"),
        (("B10*HF12345678*BK", "B10**BK"), r"B1001\): carrier's reference \(PRO number\) missing"),
        (("*BK-100042*HRTG~", "*BK-100042*~"), r"B1003\): SCAC '' is not 2 to 4 capitals"),
        (("*BK-100042*HRTG~", "*BK-100042*hrtg-x~"), r"B1003\): SCAC 'hrtg-x'"),
        (("*004010~ST", "*4.1~ST"), r"GS08\): version '4.1' is not a release like 004010"),
        (("*004010~ST", "*002040~ST"), r"GS08\): release 002040 is older than 003070"),
    ],
)
def test_each_broken_part_is_named(broken: tuple[str, str], message: str) -> None:
    text = interchange()
    old, new = broken
    assert old in text
    text = text.replace(old, new)
    if old == "LX*1~":
        text = text.replace("SE*10*", "SE*9*")
    with pytest.raises(MalformedPayload, match=message):
        parse_x12_214(text)


def test_b10_names_the_carriers_reference_the_shippers_id_and_the_carrier() -> None:
    (milestone,) = parse_x12_214(interchange())
    assert milestone.tracking_number == "HF12345678", "B1001, the PRO customers see"
    assert milestone.shipper_reference == "BK-100042", "B1002, our shipment id"
    assert milestone.carrier == "HRTG", "B1003, the SCAC"


def test_b10_without_the_shippers_id_still_gives_the_milestone() -> None:
    text = interchange().replace("*BK-100042*", "**")
    (milestone,) = parse_x12_214(text)
    assert milestone.shipper_reference is None and milestone.tracking_number == "HF12345678"


def test_carriers_sharing_one_endpoint_are_told_apart_by_their_scac() -> None:
    heritage = Shipment(scac="HRTG")
    other = Shipment(scac="ODFL")
    first, second = parse_x12_214(interchange([heritage, other]))
    assert (first.carrier, second.carrier) == ("HRTG", "ODFL")
    assert first.tracking_number == second.tracking_number
    assert first.event_id != second.event_id, "one PRO at two carriers is two shipments"


@pytest.mark.parametrize("release", ["003070", "004010", "005010", "006020"])
def test_every_release_reads_to_the_same_milestone(release: str) -> None:
    assert parse_x12_214(interchange(release=release)) == parse_x12_214(interchange())


def test_003070_puts_the_century_after_a_six_digit_date() -> None:
    text = interchange(release="003070")
    assert "*261120*20*0803*CT~" in text
    (milestone,) = parse_x12_214(text)
    assert milestone.occurred_at.astimezone(UTC) == datetime(2026, 11, 20, 14, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("date", "year"), [("20261120", 2026), ("20681231", 2068), ("19991231", 1999)]
)
def test_003070_without_a_century_reads_two_digit_years_in_a_window(date: str, year: int) -> None:
    status = Status(date=date, time_code="UT")
    text = interchange([Shipment(loops=((status,),))], release="003070", century=False)
    (milestone,) = parse_x12_214(text)
    assert milestone.occurred_at.year == year


def test_the_version_comes_from_isa12_when_gs08_is_empty() -> None:
    text = interchange(release="003070").replace("*X*003070~", "*X*~")
    (milestone,) = parse_x12_214(text)
    assert milestone.occurred_at.astimezone(UTC) == datetime(2026, 11, 20, 14, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (("*261120*20*", "*261340*20*"), r"AT705\): 20261340 0803 is not a real date"),
        (("*261120*20*", "*20261120*20*"), r"AT705\): date '20261120' is not YYMMDD"),
        (("*261120*20*", "*261120*X9*"), r"AT706\): century 'X9' is not two digits"),
        (("*20*0803*", "*20*8:03*"), r"AT707\): time '8:03' is not HHMM"),
        (("*0803*CT~", "*0803*XX~"), r"AT708\): unknown time code 'XX'"),
    ],
)
def test_each_broken_part_of_a_003070_status_is_named(
    broken: tuple[str, str], message: str
) -> None:
    text = interchange(release="003070")
    old, new = broken
    assert old in text
    with pytest.raises(MalformedPayload, match=message):
        parse_x12_214(text.replace(old, new))


def test_missing_iea_is_malformed() -> None:
    text = interchange()
    with pytest.raises(MalformedPayload, match="without IEA"):
        parse_x12_214(text[: text.index("IEA")])


def test_not_x12_at_all_is_malformed() -> None:
    with pytest.raises(MalformedPayload, match="expected ISA"):
        parse_x12_214(b'{"json": true}')
    with pytest.raises(MalformedPayload, match="not valid UTF-8"):
        parse_x12_214(b"ISA*\xff\xfe")
    with pytest.raises(MalformedPayload, match="empty"):
        parse_x12_214(b"  \n")


def test_rendering_a_parsed_interchange_gives_the_same_text() -> None:
    text = interchange(element="|", segment="\n", component="^")
    assert render_interchange(parse_interchange(text)) == text


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_push_with_the_right_credentials_is_parsed() -> None:
    body = interchange().encode()
    assert len(parse_heritage_push(body, basic("heritage", "pw"), "pw")) == 1


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer x"}, {"Authorization": "Basic !!"}],
)
def test_push_without_good_credentials_is_refused(headers: dict[str, str]) -> None:
    with pytest.raises(InvalidSignature):
        parse_heritage_push(interchange().encode(), headers, "pw")


def test_push_with_the_wrong_password_is_refused() -> None:
    with pytest.raises(InvalidSignature):
        parse_heritage_push(interchange().encode(), basic("heritage", "nope"), "pw")


def test_outbox_sets_bad_interchanges_apart_and_moves_past_them() -> None:
    bad = interchange(control=2).replace("*X6*", "*Q9*")
    text = "\n".join(
        [interchange(control=1), bad, interchange(control=5, element="|", segment="\n")]
    )
    batch = parse_heritage_outbox(text)
    assert len(batch.milestones) == 2
    (rejected,) = batch.rejected
    assert isinstance(rejected.error, UnknownStatusCode)
    assert rejected.raw.startswith(b"ISA*") and b"Q9" in rejected.raw
    assert batch.cursor == "000000005"


def test_outbox_interchange_with_a_broken_envelope_is_set_apart_too() -> None:
    broken = interchange(control=7).replace("IEA*1*000000007", "IEA*1*000000008")
    batch = parse_heritage_outbox(interchange(control=6) + "\n" + broken + "\n")
    assert len(batch.milestones) == 1 and len(batch.rejected) == 1
    assert batch.cursor == "000000007"
