"""X12 214 status messages (Heritage Freight's, or any carrier's) to canonical milestones.

Each 214 transaction set is one shipment, named by B10 as the standard defines it: B1001 the
carrier's reference (the PRO number, the tracking number customers see), B1002 the shipper's
shipment id (our booking, when the carrier echoes it), B1003 the carrier's SCAC, so several
carriers can send 214s to one endpoint and each milestone says whose it is. Every AT7 inside an
LX loop is one status, located by the MS1 that follows it.

Where AT7 keeps the date depends on the release the group is written in (GS08, else ISA12):
before 004010 the date is YYMMDD followed by a century element, then time and time code; from
004010 on the date is CCYYMMDD, then time and time code. Times are resolved per `timezones`.
X12 sends no event id, so each milestone's id is derived from (SCAC, tracking number, AT701,
instant): the same status pushed twice, or pushed and then pulled, dedupes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from domain.shipments import Milestone, MilestoneStatus
from system_apis.errors import MalformedPayload
from system_apis.heritage.timezones import is_known_time_code, zone_for_time_code
from system_apis.heritage.x12 import (
    FunctionalGroup,
    Interchange,
    Segment,
    TransactionSet,
    release,
)
from system_apis.milestones import canonical_status, derived_event_id

CARRIER = "HRTG"
"""Heritage Freight's SCAC, the carrier whose home zone is the default for local times."""
HOME_ZONE = "America/Chicago"
"""Heritage's home zone: where a local time (LT) is read when MS1 does not tell the place."""

STATUS: Mapping[str, MilestoneStatus] = {
    "X3": MilestoneStatus.INFO_RECEIVED,  # arrived at pick-up location, not yet loaded
    "AF": MilestoneStatus.IN_TRANSIT,  # departed pick-up location
    "X6": MilestoneStatus.IN_TRANSIT,  # en route to delivery location
    "X4": MilestoneStatus.IN_TRANSIT,  # arrived at terminal location
    "P1": MilestoneStatus.IN_TRANSIT,  # departed terminal location
    "AG": MilestoneStatus.INFO_RECEIVED,  # estimated delivery: news, not progress
    "X1": MilestoneStatus.OUT_FOR_DELIVERY,  # arrived at delivery location
    "D1": MilestoneStatus.DELIVERED,  # completed unloading at delivery location
    "AP": MilestoneStatus.FAILED_ATTEMPT,  # delivery not completed
    "A7": MilestoneStatus.EXCEPTION,  # refused by consignee
    "A9": MilestoneStatus.EXCEPTION,  # shipment damaged
    "SD": MilestoneStatus.EXCEPTION,  # shipment delayed
    "A3": MilestoneStatus.RETURNED,  # shipment returned to shipper
}

DESCRIPTIONS: Mapping[str, str] = {
    "X3": "Arrived at pick-up location",
    "AF": "Departed pick-up location",
    "X6": "En route to delivery location",
    "X4": "Arrived at terminal location",
    "P1": "Departed terminal location",
    "AG": "Estimated delivery",
    "X1": "Arrived at delivery location",
    "D1": "Completed unloading at delivery location",
    "AP": "Delivery not completed",
    "A7": "Refused by consignee",
    "A9": "Shipment damaged",
    "SD": "Shipment delayed",
    "A3": "Shipment returned to shipper",
}

NORMAL_REASON = "NS"
COUNTRY_ALPHA3: Mapping[str, str] = {"USA": "US", "CAN": "CA", "MEX": "MX"}
OLDEST_RELEASE = 3070
CENTURY_PIVOT = 69
"""A two-digit year without its century element: 69-99 are 19xx, 00-68 are 20xx (as strptime)."""


@dataclass(frozen=True, slots=True)
class StatusTimeLayout:
    """Where AT7 keeps a status's date, century, time and time code (element numbers)."""

    date: int
    time: int
    time_code: int
    century: int | None = None

    @property
    def date_digits(self) -> int:
        return 8 if self.century is None else 6


BEFORE_004010 = StatusTimeLayout(date=5, century=6, time=7, time_code=8)
FROM_004010 = StatusTimeLayout(date=5, time=6, time_code=7)


def status_time_layout(version: int, group: FunctionalGroup) -> StatusTimeLayout:
    if version < OLDEST_RELEASE:
        raise MalformedPayload(
            f"{group.header.where(8)}: release {version:06d} is older than 003070, not read"
        )
    return BEFORE_004010 if version < 4010 else FROM_004010


def milestones_from_interchange(
    interchange: Interchange, *, home_zone: tzinfo | None = None
) -> tuple[Milestone, ...]:
    """Every AT7 status of every 214 in the interchange, in message order."""
    zone = home_zone or ZoneInfo(HOME_ZONE)
    milestones: list[Milestone] = []
    for group in interchange.groups:
        if group.functional_id != "QM":
            raise MalformedPayload(
                f"{group.header.where(1)}: functional id {group.functional_id!r}, "
                "status messages come in QM groups"
            )
        layout = status_time_layout(release(interchange, group), group)
        for transaction in group.transaction_sets:
            milestones.extend(milestones_from_transaction(transaction, layout, home_zone=zone))
    return tuple(milestones)


@dataclass(frozen=True, slots=True)
class ShipmentReferences:
    """B10: who the shipment is to the carrier, to the shipper, and which carrier it is."""

    tracking_number: str
    shipper_reference: str | None
    scac: str


def shipment_references(b10: Segment) -> ShipmentReferences:
    tracking_number = b10.element(1).strip()
    if not tracking_number:
        raise MalformedPayload(f"{b10.where(1)}: carrier's reference (PRO number) missing")
    scac = b10.element(3).strip()
    if not (2 <= len(scac) <= 4 and scac.isascii() and scac.isalnum() and scac == scac.upper()):
        raise MalformedPayload(
            f"{b10.where(3)}: SCAC {scac[:10]!r} is not 2 to 4 capitals or digits"
        )
    return ShipmentReferences(
        tracking_number=tracking_number,
        shipper_reference=b10.element(2).strip() or None,
        scac=scac,
    )


def milestones_from_transaction(
    transaction: TransactionSet, layout: StatusTimeLayout, *, home_zone: tzinfo
) -> tuple[Milestone, ...]:
    where = f"transaction set {transaction.control_number!r}"
    if transaction.code != "214":
        raise MalformedPayload(f"{where}: ST01 is {transaction.code!r}, expected 214")
    b10: Segment | None = None
    statuses: list[tuple[Segment, Segment | None]] = []
    in_loop = False
    for segment in transaction.segments:
        if segment.tag == "B10":
            if b10 is not None:
                raise MalformedPayload(f"{segment.where()}: a second B10 in {where}")
            b10 = segment
        elif segment.tag == "LX":
            in_loop = True
        elif segment.tag == "AT7":
            if not in_loop:
                raise MalformedPayload(f"{segment.where()}: AT7 outside an LX loop")
            statuses.append((segment, None))
        elif segment.tag == "MS1" and in_loop:
            if not statuses or statuses[-1][1] is not None:
                raise MalformedPayload(f"{segment.where()}: MS1 without an AT7 before it")
            statuses[-1] = (statuses[-1][0], segment)
    if b10 is None:
        raise MalformedPayload(f"{where}: no B10 segment")
    references = shipment_references(b10)
    if not statuses:
        raise MalformedPayload(f"{where}: no AT7 status")
    return tuple(
        milestone_from_status(references, at7, ms1, layout, home_zone=home_zone)
        for at7, ms1 in statuses
    )


def milestone_from_status(
    references: ShipmentReferences,
    at7: Segment,
    ms1: Segment | None,
    layout: StatusTimeLayout,
    *,
    home_zone: tzinfo,
) -> Milestone:
    code = at7.element(1).strip()
    if not code:
        raise MalformedPayload(f"{at7.where(1)}: status code missing")
    status = STATUS.get(code) or canonical_status(references.scac, code, STATUS, at7.where(1))
    city, region, country = _place(ms1)
    occurred_at = _occurred_at(at7, layout, region, country, home_zone)
    reason = at7.element(2).strip()
    return Milestone(
        event_id=derived_event_id(references.scac, references.tracking_number, code, occurred_at),
        tracking_number=references.tracking_number,
        shipper_reference=references.shipper_reference,
        status=status,
        occurred_at=occurred_at,
        carrier=references.scac,
        carrier_code=code,
        carrier_description=DESCRIPTIONS.get(code, code),
        reason=reason if reason and reason != NORMAL_REASON else None,
        city=city,
        region=region,
        country=country,
    )


def _place(ms1: Segment | None) -> tuple[str | None, str | None, str | None]:
    if ms1 is None:
        return None, None, None
    city = ms1.element(1).strip() or None
    region = ms1.element(2).strip() or None
    raw_country = ms1.element(3).strip().upper()
    country = COUNTRY_ALPHA3.get(raw_country, raw_country)
    if country and not (len(country) == 2 and country.isascii() and country.isalpha()):
        raise MalformedPayload(f"{ms1.where(3)}: country {raw_country!r} is not a country code")
    return city, region, country or None


def _occurred_at(
    at7: Segment, layout: StatusTimeLayout, region: str | None, country: str | None, home: tzinfo
) -> datetime:
    day = at7.element(layout.date).strip()
    clock = at7.element(layout.time).strip()
    time_code = at7.element(layout.time_code).strip()
    shape = "CCYYMMDD" if layout.century is None else "YYMMDD"
    if not (len(day) == layout.date_digits and day.isascii() and day.isdigit()):
        raise MalformedPayload(f"{at7.where(layout.date)}: date {day!r} is not {shape}")
    if layout.century is not None:
        day = _with_century(day, at7.element(layout.century).strip(), at7.where(layout.century))
    if not (len(clock) in (4, 6, 7, 8) and clock.isascii() and clock.isdigit()):
        raise MalformedPayload(f"{at7.where(layout.time)}: time {clock!r} is not HHMM or HHMMSS")
    if not is_known_time_code(time_code):
        raise MalformedPayload(f"{at7.where(layout.time_code)}: unknown time code {time_code!r}")
    zone = zone_for_time_code(time_code, region=region, country=country, home_zone=home)
    try:
        return datetime(
            int(day[:4]),
            int(day[4:6]),
            int(day[6:8]),
            int(clock[:2]),
            int(clock[2:4]),
            int(clock[4:6] or 0),
            tzinfo=zone,
        )
    except ValueError:
        raise MalformedPayload(
            f"{at7.where(layout.date)}: {day} {clock} is not a real date and time"
        ) from None


def _with_century(day: str, century: str, where: str) -> str:
    """A six-digit YYMMDD date as CCYYMMDD, from its century element or, without one, the pivot."""
    if century:
        if not (len(century) == 2 and century.isascii() and century.isdigit()):
            raise MalformedPayload(f"{where}: century {century!r} is not two digits")
        return century + day
    return ("19" if int(day[:2]) >= CENTURY_PIVOT else "20") + day
