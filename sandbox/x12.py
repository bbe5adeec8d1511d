"""ANSI X12 214 (shipment status) interchanges, as Heritage Freight's EDI system writes them.

The ISA header is fixed width (106 characters with its terminator) and announces the
delimiters: the element separator is its 4th character, the component separator its 16th
element, the segment terminator the character right after it. Every interchange carries one
functional group (QM) with one 214 transaction set.

Heritage runs EDI translators of several ages side by side, so interchanges come in three
releases (ISA12 and GS08): 003070, where dates have six digits (YYMMDD) and AT7 adds a century
element after the date; 004010 and 005010, where dates are CCYYMMDD. B10 is as the standard
defines it: the PRO number (B1001), the shipper's shipment id, here the TMS booking (B1002),
and Heritage's SCAC (B1003).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from zoneinfo import ZoneInfo

SENDER_ID = "HRTG"
RECEIVER_ID = "LOGISTICSGW"
SCAC = "HRTG"
TIME_CODES = MappingProxyType(
    {
        "America/New_York": "ET",
        "America/Indiana/Indianapolis": "ET",
        "America/Chicago": "CT",
        "America/Denver": "MT",
        "America/Los_Angeles": "PT",
    }
)


@dataclass(frozen=True)
class Delimiters:
    element: str
    segment: str
    component: str = ">"


STANDARD = Delimiters(element="*", segment="~")
ALTERNATIVE = Delimiters(element="|", segment="\n")


@dataclass(frozen=True)
class StatusReport:
    """What one 214 says: which shipment, which status, when and where."""

    order_ref: str
    tracking_number: str
    booking_id: str
    shipper: str
    consignee: str
    status: str
    reason: str
    occurred_at: datetime
    timezone: str
    city: str
    state: str
    country: str
    equipment: str


RELEASES = ("003070", "004010", "005010")


def release_for(control_number: int) -> str:
    """Interchanges cycle through the releases, so every reader meets each of them."""
    return RELEASES[control_number % len(RELEASES)]


def delimiters_for(control_number: int) -> Delimiters:
    """Every fifth interchange uses `|` and newlines, so parsers must read the ISA header."""
    return ALTERNATIVE if control_number % 5 == 0 else STANDARD


def status_time(occurred_at: datetime, timezone: str, control_number: int) -> tuple[str, ...]:
    """AT7's date elements, time and time code (a US zone code, `UT`, or `LT`: local, zone
    unnamed), in the layout of the interchange's release."""
    if control_number % 7 == 0:
        moment, code = occurred_at.astimezone(UTC), "UT"
    else:
        moment = occurred_at.astimezone(ZoneInfo(timezone))
        code = TIME_CODES.get(timezone, "LT")
    if release_for(control_number) < "004010":
        return moment.strftime("%y%m%d"), moment.strftime("%Y")[:2], moment.strftime("%H%M"), code
    return moment.strftime("%Y%m%d"), moment.strftime("%H%M"), code


def _clean(value: str, delimiters: Delimiters) -> str:
    for character in (delimiters.element, delimiters.segment, delimiters.component, "~", "*"):
        value = value.replace(character, " ")
    return value.strip()


def interchange(report: StatusReport, control_number: int, sent_at: datetime) -> str:
    """One complete ISA…IEA interchange carrying `report`."""
    delimiters = delimiters_for(control_number)
    release = release_for(control_number)
    sent = sent_at.astimezone(UTC)
    when = status_time(report.occurred_at, report.timezone, control_number)
    set_control = f"{control_number % 10**9:04d}"
    header = delimiters.element.join(
        (
            "ISA",
            "00",
            " " * 10,
            "00",
            " " * 10,
            "ZZ",
            SENDER_ID.ljust(15),
            "ZZ",
            RECEIVER_ID.ljust(15),
            sent.strftime("%y%m%d"),
            sent.strftime("%H%M"),
            "U",
            release[:5],
            f"{control_number % 10**9:09d}",
            "0",
            "P",
            delimiters.component,
        )
    )
    transaction = [
        ("ST", "214", set_control),
        ("B10", report.tracking_number, report.booking_id, SCAC),
        ("L11", report.order_ref, "PO"),
        ("L11", report.booking_id, "BM"),
        ("N1", "SH", report.shipper),
        ("N1", "CN", report.consignee),
        ("LX", "1"),
        ("AT7", report.status, report.reason, "", "", *when),
        ("MS1", report.city, report.state, report.country),
        ("MS2", SCAC, report.equipment),
    ]
    transaction.append(("SE", str(len(transaction) + 1), set_control))
    segments = [
        (
            "GS",
            "QM",
            SENDER_ID,
            RECEIVER_ID,
            sent.strftime("%y%m%d" if release < "004010" else "%Y%m%d"),
            sent.strftime("%H%M"),
            str(control_number),
            "X",
            release,
        ),
        *transaction,
        ("GE", "1", str(control_number)),
        ("IEA", "1", f"{control_number % 10**9:09d}"),
    ]
    body = "".join(
        delimiters.element.join(_clean(value, delimiters) for value in segment) + delimiters.segment
        for segment in segments
    )
    return header + delimiters.segment + body
