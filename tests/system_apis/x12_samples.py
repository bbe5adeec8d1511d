"""X12 214 text written the way carriers write it, independent of the parser under test.

`release` picks the version the interchange is written in (ISA12, GS08) and with it the AT7
layout: before 004010 the date is YYMMDD followed by a century element (left empty when
`century` is False), from 004010 on it is CCYYMMDD.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

RELEASES = ("003070", "004010", "005010")


@dataclass(frozen=True)
class Status:
    code: str = "X6"
    reason: str = "NS"
    date: str = "20261120"
    time: str = "0803"
    time_code: str = "CT"
    city: str | None = "Chicago"
    state: str = "IL"
    country: str = "US"


@dataclass(frozen=True)
class Shipment:
    """B10 as the standard has it: carrier's reference (PRO), shipper's shipment id, SCAC."""

    tracking_number: str = "HF12345678"
    shipper_reference: str = "BK-100042"
    scac: str = "HRTG"
    loops: tuple[tuple[Status, ...], ...] = ((Status(),),)


def isa(
    control: int, element: str = "*", component: str = ">", release: str = "004010"
) -> list[str]:
    return [
        "ISA", "00", " " * 10, "00", " " * 10, "ZZ", "HRTG".ljust(15), "ZZ",
        "LOGISTICSGW".ljust(15), "261120", "1407", "U", release[:5], f"{control:09d}", "0", "P",
        component,
    ]  # fmt: skip


def at7(status: Status, release: str, century: bool = True) -> list[str]:
    if release < "004010":
        when = [status.date[2:], status.date[:2] if century else "", status.time]
    else:
        when = [status.date, status.time]
    return ["AT7", status.code, status.reason, "", "", *when, status.time_code]


def transaction_segments(
    shipment: Shipment, set_control: str, release: str = "004010", century: bool = True
) -> list[list[str]]:
    body: list[list[str]] = [
        ["B10", shipment.tracking_number, shipment.shipper_reference, shipment.scac],
        ["L11", "SO-100042", "PO"],
        ["N1", "SH", "Chicago distribution center"],
        ["N1", "CN", "Acme"],
    ]
    for number, statuses in enumerate(shipment.loops, start=1):
        body.append(["LX", str(number)])
        for status in statuses:
            body.append(at7(status, release, century))
            if status.city is not None:
                body.append(["MS1", status.city, status.state, status.country])
            body.append(["MS2", shipment.scac, "TRL5678"])
    return [["ST", "214", set_control], *body, ["SE", str(len(body) + 2), set_control]]


def interchange(
    shipments: Sequence[Shipment] = (Shipment(),),
    *,
    control: int = 12,
    element: str = "*",
    segment: str = "~",
    component: str = ">",
    after_segment: str = "",
    release: str = "004010",
    century: bool = True,
) -> str:
    segments = [isa(control, element, component, release)]
    sent_on = "261120" if release < "004010" else "20261120"
    segments.append(["GS", "QM", "HRTG", "LOGISTICSGW", sent_on, "1407", str(control), "X",
                     release])  # fmt: skip
    for index, shipment in enumerate(shipments, start=1):
        segments.extend(transaction_segments(shipment, f"{index:04d}", release, century))
    segments.append(["GE", str(len(shipments)), str(control)])
    segments.append(["IEA", "1", f"{control:09d}"])
    return "".join(element.join(parts) + segment + after_segment for parts in segments)
