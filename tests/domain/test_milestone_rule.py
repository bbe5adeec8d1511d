"""The current-status rule: arrival order, duplicates and late events never move status back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import (
    TERMINAL_STATUSES,
    DecidingMilestones,
    EventEnvelope,
    Milestone,
    MilestoneStatus,
    SourceSystem,
    current_milestone,
    envelope_from_dict,
    envelope_to_dict,
    merge_history,
    progress_rank,
)
from domain.shipments import milestone_fields, milestone_from_fields

START = datetime(2026, 11, 20, tzinfo=UTC)


def at(hours: float, status: MilestoneStatus, event_id: str | None = None) -> Milestone:
    return Milestone(
        event_id=event_id or f"{status.value}-{hours}",
        tracking_number="SP0000000001",
        status=status,
        occurred_at=START + timedelta(hours=hours),
        carrier="SWFT",
        carrier_code="XX",
    )


milestones = st.builds(
    at,
    hours=st.integers(min_value=0, max_value=200),
    status=st.sampled_from(list(MilestoneStatus)),
)
histories = st.lists(milestones, min_size=1, max_size=12, unique_by=lambda m: m.event_id)


@given(histories, st.randoms())
def test_the_current_status_does_not_depend_on_arrival_order(history, random):
    shuffled = list(history)
    random.shuffle(shuffled)
    assert current_milestone(shuffled) == current_milestone(history)


@given(histories, st.data())
def test_redelivered_events_change_nothing(history, data):
    repeats = data.draw(st.lists(st.sampled_from(history), max_size=5))
    assert current_milestone([*history, *repeats]) == current_milestone(history)
    assert merge_history(history, repeats) == merge_history(history)


@given(histories, st.randoms(), st.data())
def test_the_deciding_pair_kept_event_by_event_is_the_whole_historys(history, random, data):
    """Folding is idempotent and commutative: milestones folded one by one into a pair, in any
    order and with redeliveries, give the pair (and the status) of the whole history."""
    arrivals = [*history, *data.draw(st.lists(st.sampled_from(history), max_size=5))]
    random.shuffle(arrivals)
    split = data.draw(st.integers(min_value=0, max_value=len(arrivals)))
    before, after = DecidingMilestones().fold_all(arrivals[:split]), arrivals[split:]
    kept = before.fold_all(after)
    whole = DecidingMilestones().fold_all(history)
    assert kept == whole
    assert kept.current == current_milestone(history)
    assert kept.progress in (None, *history) and kept.exception in (None, *history)
    assert whole.fold_all(history) == whole


@given(histories, st.integers(min_value=0, max_value=200))
def test_a_late_in_transit_never_replaces_a_further_progress(history, hours):
    before = current_milestone(history)
    after = current_milestone([*history, at(hours, MilestoneStatus.IN_TRANSIT, "late-it")])
    assert before is not None and after is not None
    if before.status in TERMINAL_STATUSES or (
        before.status is not MilestoneStatus.EXCEPTION
        and progress_rank(before.status) > progress_rank(MilestoneStatus.IN_TRANSIT)  # type: ignore[operator]
    ):
        assert after == before


@settings(max_examples=50)
@given(histories)
def test_the_merged_history_keeps_every_event_oldest_first(history):
    merged = merge_history(history)
    assert {m.event_id for m in merged} == {m.event_id for m in history}
    assert [m.occurred_at for m in merged] == sorted(m.occurred_at for m in merged)


def test_delivered_stands_when_in_transit_arrives_afterwards():
    delivered = at(30, MilestoneStatus.DELIVERED)
    late = at(10, MilestoneStatus.IN_TRANSIT)
    assert current_milestone([delivered, late]) == delivered
    assert current_milestone([late, delivered]) == delivered


def test_an_exception_interrupts_progress_until_newer_progress_clears_it():
    in_transit = at(1, MilestoneStatus.IN_TRANSIT)
    delay = at(2, MilestoneStatus.EXCEPTION)
    assert current_milestone([in_transit, delay]) == delay
    resumed = at(3, MilestoneStatus.IN_TRANSIT)
    assert current_milestone([in_transit, delay, resumed]) == resumed


def test_an_exception_after_delivery_does_not_undo_delivery():
    delivered = at(5, MilestoneStatus.DELIVERED)
    assert current_milestone([delivered, at(6, MilestoneStatus.EXCEPTION)]) == delivered


def test_a_second_delivery_attempt_follows_a_failed_one():
    attempts = [
        at(1, MilestoneStatus.OUT_FOR_DELIVERY),
        at(2, MilestoneStatus.FAILED_ATTEMPT),
        at(25, MilestoneStatus.OUT_FOR_DELIVERY, "second-ofd"),
    ]
    current = current_milestone(attempts)
    assert current is not None and current.event_id == "second-ofd"


def test_naive_timestamps_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        Milestone(
            event_id="e",
            tracking_number="t",
            status=MilestoneStatus.DELIVERED,
            occurred_at=datetime(2026, 11, 20),
            carrier="SWFT",
            carrier_code="DL",
        )


storable_text = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")


@given(
    st.text(storable_text, min_size=1, max_size=20),
    st.datetimes(timezones=st.just(UTC)),
    st.dictionaries(
        st.text(storable_text, max_size=5), st.integers(-(2**63), 2**63 - 1), max_size=3
    ),
)
def test_the_envelope_survives_its_json_form(event_id, occurred, payload):
    envelope = EventEnvelope(
        event_id=event_id,
        event_type="milestone.recorded",
        source=SourceSystem.CARRIER,
        source_name="swiftparcel",
        aggregate_type="shipment",
        aggregate_id="SP1",
        occurred_at=occurred,
        received_at=occurred,
        correlation_id="c",
        payload=payload,
    )
    assert envelope_from_dict(envelope_to_dict(envelope)) == envelope


@given(histories)
def test_a_milestone_survives_its_flat_form_as_text_or_datetime(history):
    for milestone in history:
        flat = milestone_fields(milestone)
        assert milestone_from_fields(flat) == milestone
        as_text = {**flat, "occurred_at": milestone.occurred_at.isoformat()}
        assert milestone_from_fields(as_text) == milestone
