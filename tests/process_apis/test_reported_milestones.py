"""A stored event's milestone is read once per process, whoever asks, within a bound."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from domain import Milestone, MilestoneStatus
from process_apis.live import ReportedMilestones
from stores import StoredEvent
from system_apis.milestones import milestone_envelope
from tests.process_apis.test_live_subscriptions import event

AT = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)


def stored_milestone(position: int, tracking_number: str = "SP0000000001") -> StoredEvent:
    milestone = Milestone(
        event_id=f"SWFT:{position}",
        tracking_number=tracking_number,
        status=MilestoneStatus.IN_TRANSIT,
        occurred_at=AT,
        carrier="SWFT",
        carrier_code="IT",
    )
    envelope = milestone_envelope(milestone, received_at=AT, correlation_id="corr-reported")
    return StoredEvent(position=position, envelope=envelope)


def test_a_milestone_is_read_once_and_equals_its_payload():
    milestones = ReportedMilestones()
    stored = stored_milestone(7)
    first = milestones.of(stored)
    assert first is not None and first.event_id == "SWFT:7" and first.occurred_at == AT
    assert milestones.of(stored) is first


def test_other_events_and_malformed_milestones_report_none():
    milestones = ReportedMilestones()
    assert milestones.of(StoredEvent(position=1, envelope=event("Order", "O-1", "C-1001"))) is None
    stored = stored_milestone(2)
    payload = {**stored.envelope.payload, "status": "TELEPORTED"}
    broken = StoredEvent(position=3, envelope=dataclasses.replace(stored.envelope, payload=payload))
    assert milestones.of(broken) is None


def test_the_memory_is_bounded_and_forgets_the_oldest_first():
    milestones = ReportedMilestones(capacity=2)
    oldest, middle, newest = (stored_milestone(position) for position in (1, 2, 3))
    kept = milestones.of(oldest)
    milestones.of(middle)
    milestones.of(newest)
    again = milestones.of(oldest)
    assert again == kept and again is not kept  # read again: it had been forgotten


def test_a_capacity_below_one_is_refused():
    with pytest.raises(ValueError, match="capacity"):
        ReportedMilestones(capacity=0)
