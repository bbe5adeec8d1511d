"""Properties of the X12 reader and the 214 mapping over generated messages.

Whatever delimiters the header declares and whichever release it is written in (003070 with
its six-digit dates and century element, 004010, 005010 and later), a valid message reads
back to what was written, B10's three references included; a
message cut short anywhere, or with any byte changed, is either still a valid message or a
`MalformedPayload`, never another exception.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from system_apis.errors import MalformedPayload
from system_apis.heritage.inbound import parse_x12_214
from system_apis.heritage.mapping import STATUS
from system_apis.heritage.x12 import (
    Delimiters,
    FunctionalGroup,
    Interchange,
    Segment,
    TransactionSet,
    parse_interchanges,
    render_interchange,
)
from tests.system_apis.x12_samples import RELEASES, Shipment, Status, interchange, isa

ELEMENT_SEPARATORS = "*|^!+@#"
COMPONENT_SEPARATORS = ">:\\^`"
SEGMENT_TERMINATORS = "~'\n!$"
DATA = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdxyz0123456789 -.", max_size=12)
FIXED_OFFSETS = {"UT": 0, "CS": -6, "CD": -5, "ES": -5, "ED": -4, "PS": -8, "MD": -6}

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def delimiters(draw: st.DrawFn) -> Delimiters:
    element = draw(st.sampled_from(ELEMENT_SEPARATORS))
    component = draw(st.sampled_from([c for c in COMPONENT_SEPARATORS if c != element]))
    segment = draw(
        st.sampled_from([c for c in SEGMENT_TERMINATORS if c not in (element, component)])
    )
    return Delimiters(element=element, component=component, segment=segment)


tags = st.from_regex(r"[A-Z][A-Z0-9]{1,2}", fullmatch=True).filter(
    lambda tag: tag not in {"ISA", "IEA", "GS", "GE", "ST", "SE"}
)
segments = st.builds(
    lambda tag, elements: Segment(tag, tuple(elements)), tags, st.lists(DATA, max_size=6)
)
numbers = st.integers(min_value=1, max_value=999_999_999)


@st.composite
def interchanges(draw: st.DrawFn) -> Interchange:
    chosen = draw(delimiters())
    control = draw(numbers)
    groups = []
    for group_number in range(draw(st.integers(0, 3))):
        sets = tuple(
            TransactionSet(
                code=draw(st.sampled_from(["214", "210", "990"])),
                control_number=f"{set_number + 1:04d}",
                segments=tuple(draw(st.lists(segments, max_size=6))),
            )
            for set_number in range(draw(st.integers(0, 3)))
        )
        header = Segment("GS", ("QM", "HRTG", "GW", "20261120", "1407", str(group_number + 1)))
        groups.append(FunctionalGroup(header=header, transaction_sets=sets))
    header = Segment("ISA", tuple(isa(control, chosen.element, chosen.component)[1:]))
    return Interchange(delimiters=chosen, header=header, groups=tuple(groups))


@FAST
@given(interchanges())
def test_any_interchange_reads_back_as_written(original: Interchange) -> None:
    (parsed,) = parse_interchanges(render_interchange(original))
    assert parsed == original


statuses = st.builds(
    Status,
    code=st.sampled_from(sorted(STATUS)),
    reason=st.sampled_from(["NS", "AH", "A1"]),
    date=st.dates(
        min_value=datetime(2000, 1, 1).date(), max_value=datetime(2099, 12, 31).date()
    ).map(lambda day: day.strftime("%Y%m%d")),
    time=st.times().map(lambda moment: moment.strftime("%H%M")),
    time_code=st.sampled_from(sorted(FIXED_OFFSETS)),
    city=st.sampled_from(["Chicago", "Memphis", "Gary"]),
    state=st.sampled_from(["IL", "TN", "IN"]),
    country=st.just("US"),
)
shipments = st.builds(
    Shipment,
    tracking_number=st.from_regex(r"[0-9]{8,10}|HF[0-9]{8}", fullmatch=True),
    shipper_reference=st.from_regex(r"BK-[0-9]{6}", fullmatch=True),
    scac=st.sampled_from(["HRTG", "ODFL", "SAIA", "RL", "ABFS"]),
    loops=st.lists(
        st.lists(statuses, min_size=1, max_size=3).map(tuple), min_size=1, max_size=3
    ).map(tuple),
)


@st.composite
def messages(draw: st.DrawFn) -> tuple[str, list[Shipment]]:
    chosen = draw(delimiters())
    sent = draw(st.lists(shipments, min_size=1, max_size=3))
    release = draw(st.sampled_from([*RELEASES, "006020"]))
    if release < "004010" and not draw(st.booleans()):
        # without a century element the year must fall in the two-digit window to read back
        sent = [
            replace(shipment, loops=tuple(tuple(map(in_window, loop)) for loop in shipment.loops))
            for shipment in sent
        ]
        century = False
    else:
        century = True
    text = interchange(
        sent,
        control=draw(numbers),
        element=chosen.element,
        segment=chosen.segment,
        component=chosen.component,
        after_segment=draw(st.sampled_from(["", "\n", "\r\n"])) if chosen.segment != "\n" else "",
        release=release,
        century=century,
    )
    return text, sent


def in_window(status: Status) -> Status:
    """The same status with its year moved into 1969-2068, where YY alone is unambiguous."""
    year = int(status.date[:4])
    moved = year if 1969 <= year <= 2068 else year - 100
    return replace(status, date=f"{moved}{status.date[4:]}")


def expected_instant(status: Status) -> datetime:
    naive = datetime.strptime(status.date + status.time, "%Y%m%d%H%M")
    return (naive - timedelta(hours=FIXED_OFFSETS[status.time_code])).replace(tzinfo=UTC)


@FAST
@given(messages())
def test_generated_214_messages_read_back_every_status(message: tuple[str, list[Shipment]]) -> None:
    text, sent = message
    milestones = parse_x12_214(text)
    expected = [
        (
            shipment.tracking_number,
            shipment.shipper_reference,
            shipment.scac,
            status.code,
            expected_instant(status),
            status.city,
        )
        for shipment in sent
        for loop in shipment.loops
        for status in loop
    ]
    assert [
        (
            m.tracking_number,
            m.shipper_reference,
            m.carrier,
            m.carrier_code,
            m.occurred_at.astimezone(UTC),
            m.city,
        )
        for m in milestones
    ] == expected
    assert all(m.status is STATUS[m.carrier_code] for m in milestones)


@settings(max_examples=25, deadline=None)
@given(messages())
def test_a_message_cut_short_anywhere_is_malformed(message: tuple[str, list[Shipment]]) -> None:
    text, _ = message
    for cut in range(len(text)):
        shortened = text[:cut]
        if shortened.rstrip() == text.rstrip():
            continue  # only trailing whitespace is gone: still the whole message
        try:
            parse_x12_214(shortened)
        except MalformedPayload:
            continue
        raise AssertionError(f"cut at {cut} of {len(text)} was accepted: {shortened[-30:]!r}")


@settings(max_examples=150, deadline=None)
@given(messages(), st.data())
def test_corrupted_bytes_give_malformed_payload_or_a_valid_reading(
    message: tuple[str, list[Shipment]], data: st.DataObject
) -> None:
    raw = bytearray(message[0].encode())
    for _ in range(data.draw(st.integers(1, 3))):
        position = data.draw(st.integers(0, len(raw) - 1))
        action = data.draw(st.sampled_from(["replace", "delete", "insert"]))
        byte = data.draw(st.integers(0, 255))
        if action == "replace":
            raw[position] = byte
        elif action == "delete":
            del raw[position]
        else:
            raw.insert(position, byte)
    with contextlib.suppress(MalformedPayload):
        parse_x12_214(bytes(raw))
