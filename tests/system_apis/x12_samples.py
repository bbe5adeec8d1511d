"""X12 214 text written the way carriers write it, independent of the parser under test."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


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
    tracking_number: str = "HF12345678"
    order_ref: str = "SO-100042"
    loops: tuple[tuple[Status, ...], ...] = ((Status(),),)


def isa(control: int, element: str = "*", component: str = ">") -> list[str]:
    return [
        "ISA", "00", " " * 10, "00", " " * 10, "ZZ", "HRTG".ljust(15), "ZZ",
        "LOGISTICSGW".ljust(15), "261120", "1407", "U", "00401", f"{control:09d}", "0", "P",
        component,
    ]  # fmt: skip


def transaction_segments(shipment: Shipment, set_control: str) -> list[list[str]]:
    body: list[list[str]] = [
        ["B10", shipment.order_ref, shipment.tracking_number, "HRTG"],
        ["L11", shipment.order_ref, "PO"],
        ["N1", "SH", "Chicago distribution center"],
        ["N1", "CN", "Acme"],
    ]
    for number, statuses in enumerate(shipment.loops, start=1):
        body.append(["LX", str(number)])
        for status in statuses:
            body.append(
                ["AT7", status.code, status.reason, "", "", status.date, status.time,
                 status.time_code]
            )  # fmt: skip
            if status.city is not None:
                body.append(["MS1", status.city, status.state, status.country])
            body.append(["MS2", "HRTG", "TRL5678"])
    return [["ST", "214", set_control], *body, ["SE", str(len(body) + 2), set_control]]


def interchange(
    shipments: Sequence[Shipment] = (Shipment(),),
    *,
    control: int = 12,
    element: str = "*",
    segment: str = "~",
    component: str = ">",
    after_segment: str = "",
) -> str:
    segments = [isa(control, element, component)]
    segments.append(["GS", "QM", "HRTG", "LOGISTICSGW", "20261120", "1407", str(control), "X",
                     "004010"])  # fmt: skip
    for index, shipment in enumerate(shipments, start=1):
        segments.extend(transaction_segments(shipment, f"{index:04d}"))
    segments.append(["GE", str(len(shipments)), str(control)])
    segments.append(["IEA", "1", f"{control:09d}"])
    return "".join(element.join(parts) + segment + after_segment for parts in segments)
