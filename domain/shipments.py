"""Shipments, packages and carrier milestones, with the rule that decides the current status.

Carriers disagree on vocabulary, so every carrier code maps onto one small coarse set of
statuses (the tracking aggregators' practice) while the milestone keeps the carrier's own code
and text as its sub-status: nothing the carrier said is lost, and every portal shows the same
words for the same state.

Carrier events arrive late, twice and out of order. The current status is therefore a pure
function of the *set* of milestones, independent of arrival order:

- progress statuses have a rank; the furthest one wins, ties going to the newest occurrence;
  a late IN_TRANSIT can never replace a DELIVERED;
- an EXCEPTION interrupts progress: it is current while it is newer than the furthest progress
  and that progress is not terminal; any newer progress clears it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.storable import RecordChecks, field_names
from domain.units import Weight


class MilestoneStatus(StrEnum):
    INFO_RECEIVED = "INFO_RECEIVED"
    IN_TRANSIT = "IN_TRANSIT"
    OUT_FOR_DELIVERY = "OUT_FOR_DELIVERY"
    FAILED_ATTEMPT = "FAILED_ATTEMPT"
    AVAILABLE_FOR_PICKUP = "AVAILABLE_FOR_PICKUP"
    DELIVERED = "DELIVERED"
    EXCEPTION = "EXCEPTION"
    RETURNED = "RETURNED"


PROGRESS_RANK: dict[MilestoneStatus, int] = {
    MilestoneStatus.INFO_RECEIVED: 1,
    MilestoneStatus.IN_TRANSIT: 2,
    MilestoneStatus.OUT_FOR_DELIVERY: 3,
    MilestoneStatus.FAILED_ATTEMPT: 3,
    MilestoneStatus.AVAILABLE_FOR_PICKUP: 4,
    MilestoneStatus.DELIVERED: 5,
    MilestoneStatus.RETURNED: 6,
}
"""Progress rank per status; EXCEPTION has none because it interrupts whatever stage it hits."""

TERMINAL_STATUSES = frozenset({MilestoneStatus.DELIVERED, MilestoneStatus.RETURNED})


def progress_rank(status: MilestoneStatus) -> int | None:
    return PROGRESS_RANK.get(status)


MILESTONE_TEXT_LIMITS: Mapping[str, int] = {
    "event_id": 200,
    "tracking_number": 64,
    "status": 32,
    "carrier": 32,
    "carrier_code": 32,
    "city": 100,
    "region": 100,
    "country": 2,
    "shipper_reference": 100,
}
"""Maximum length of each text field (others: `domain.storable.DEFAULT_TEXT_LENGTH`); the
milestone history's columns are sized from it."""


@dataclass(frozen=True, slots=True)
class Milestone:
    """One carrier event, canonical status plus the carrier's own words.

    Three references name the shipment, as X12 214's B10 does: `tracking_number` is the
    carrier's own reference, the one customers see (a PRO number for freight carriers);
    `shipper_reference` is the shipper's shipment id as the carrier echoes it back (our
    booking), when the carrier sends one; `carrier` is who the carrier is (its SCAC).
    """

    event_id: str
    tracking_number: str
    status: MilestoneStatus
    occurred_at: datetime
    carrier: str
    carrier_code: str
    carrier_description: str = ""
    reason: str | None = None
    city: str | None = None
    region: str | None = None
    country: str | None = None
    shipper_reference: str | None = None

    def __post_init__(self) -> None:
        """Only what the event log and the milestone history can store exists."""
        _MILESTONE_CHECKS(self)


_MILESTONE_CHECKS = RecordChecks.of(Milestone, MILESTONE_TEXT_LIMITS)


_MILESTONE_ARGUMENTS = frozenset(field_names(Milestone)) - {"status", "occurred_at"}
"""The fields `milestone_from_fields` takes as they are (status and time are converted)."""


def milestone_fields(milestone: Milestone) -> dict[str, Any]:
    """Every field by name, the status as its code: the one flat form stores and logs build on."""
    values = {name: getattr(milestone, name) for name in field_names(Milestone)}
    values["status"] = milestone.status.value
    return values


def milestone_from_fields(values: Mapping[str, Any]) -> Milestone:
    """The inverse of `milestone_fields`; `occurred_at` may be a datetime or ISO 8601 text.

    Optional fields may be absent, so records written before a field existed still read.
    """
    occurred_at = values["occurred_at"]
    if isinstance(occurred_at, str):
        occurred_at = datetime.fromisoformat(occurred_at)
    return Milestone(
        **{name: value for name, value in values.items() if name in _MILESTONE_ARGUMENTS},
        status=MilestoneStatus(values["status"]),
        occurred_at=occurred_at,
    )


def _progress_key(milestone: Milestone) -> tuple[int, datetime, str]:
    return (PROGRESS_RANK[milestone.status], milestone.occurred_at, milestone.event_id)


def _time_key(milestone: Milestone) -> tuple[datetime, str]:
    return (milestone.occurred_at, milestone.event_id)


@dataclass(frozen=True, slots=True)
class DecidingMilestones:
    """The two milestones the current status is decided between: the furthest progress (by
    rank, then occurrence, then event id) and the latest exception (by occurrence, then event
    id). Each is a maximum over the history, so folding a milestone in is idempotent and
    commutative: a pair kept up to date event by event, in any order and with redeliveries,
    is the pair of the whole history, and so decides the same status."""

    progress: Milestone | None = None
    exception: Milestone | None = None

    def fold(self, milestone: Milestone) -> DecidingMilestones:
        if milestone.status is MilestoneStatus.EXCEPTION:
            if self.exception is None or _time_key(milestone) > _time_key(self.exception):
                return DecidingMilestones(self.progress, milestone)
        elif self.progress is None or _progress_key(milestone) > _progress_key(self.progress):
            return DecidingMilestones(milestone, self.exception)
        return self

    def fold_all(self, milestones: Iterable[Milestone]) -> DecidingMilestones:
        deciding = self
        for milestone in milestones:
            deciding = deciding.fold(milestone)
        return deciding

    @property
    def current(self) -> Milestone | None:
        """The milestone that states the current status (see the module docstring)."""
        progress, exception = self.progress, self.exception
        if exception is None:
            return progress
        if progress is None:
            return exception
        if progress.status in TERMINAL_STATUSES:
            return progress
        return exception if exception.occurred_at > progress.occurred_at else progress


def current_milestone(milestones: Iterable[Milestone]) -> Milestone | None:
    """The milestone that states the shipment's current status (see the module docstring)."""
    return DecidingMilestones().fold_all(milestones).current


def merge_history(*histories: Iterable[Milestone]) -> tuple[Milestone, ...]:
    """All milestones once each (by event id), oldest first: duplicates dropped, nothing lost."""
    by_id: dict[str, Milestone] = {}
    for history in histories:
        for milestone in history:
            by_id.setdefault(milestone.event_id, milestone)
    return tuple(sorted(by_id.values(), key=_time_key))


@dataclass(frozen=True, slots=True)
class Package:
    package_id: str
    weight: Weight
    length_cm: int | None = None
    width_cm: int | None = None
    height_cm: int | None = None


@dataclass(frozen=True, slots=True)
class Shipment:
    """A booked movement of goods for an order; TMS owns the booking, carriers the milestones."""

    shipment_id: str
    order_id: str
    customer_id: str
    carrier: str
    service: str
    tracking_number: str
    packages: tuple[Package, ...] = field(default_factory=tuple)
    milestones: tuple[Milestone, ...] = field(default_factory=tuple)

    @property
    def current(self) -> Milestone | None:
        return current_milestone(self.milestones)

    @property
    def status(self) -> MilestoneStatus | None:
        current = self.current
        return current.status if current else None
