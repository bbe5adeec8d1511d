"""A stored warehouse outcome reads back exactly as it was: a replay is the first answer."""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.inventory import InventoryPosition
from domain.locations import Location
from domain.units import UnitOfMeasure
from process_apis.warehouse_outcomes import (
    InsufficientStock,
    PackConfirmed,
    PickConfirmed,
    QuantityExceedsTask,
    StockAdjusted,
    TaskAlreadyConfirmed,
    TaskNotFound,
    UnknownLocation,
    outcome_from_record,
    outcome_to_record,
)
from system_apis.wms.models import PickTask, StockAdjustment, TaskState, TaskType

texts = st.text(
    st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=30
)  # canonical text holds no NUL, and JSON no lone surrogate
counts = st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False)
moments = st.none() | st.datetimes(timezones=st.just(UTC))
locations = st.builds(Location, warehouse_id=texts, bin=texts)
tasks = st.builds(
    PickTask,
    task_id=texts,
    task_type=st.sampled_from(TaskType),
    order_id=texts,
    location=locations,
    sku=texts,
    quantity=counts,
    state=st.sampled_from(TaskState),
    done_at=moments,
)
positions = st.builds(
    InventoryPosition,
    sku=texts,
    location=locations,
    unit=st.sampled_from(UnitOfMeasure),
    on_hand=counts,
    allocated=counts,
    in_transit=counts,
    quarantined=counts,
    returned=counts,
    updated_at=moments,
)
outcomes = st.one_of(
    st.builds(PickConfirmed, tasks),
    st.builds(PackConfirmed, tasks),
    st.builds(StockAdjusted, st.builds(StockAdjustment, texts, positions)),
    st.builds(TaskNotFound, texts),
    st.builds(TaskAlreadyConfirmed, texts),
    st.builds(QuantityExceedsTask, texts, counts, counts),
    st.builds(InsufficientStock, texts, locations, counts, st.none() | counts),
    st.builds(UnknownLocation, locations),
)


@given(outcomes)
def test_every_outcome_survives_its_stored_json_form(outcome) -> None:
    stored = orjson.loads(orjson.dumps(outcome_to_record(outcome)))
    assert outcome_from_record(stored) == outcome


def test_a_record_of_no_known_type_is_refused() -> None:
    with pytest.raises(ValueError, match="not a stored warehouse outcome"):
        outcome_from_record({"type": "Refund", "amount": "1"})


def test_decimals_keep_their_exact_value() -> None:
    outcome = QuantityExceedsTask("T-1", Decimal("2.50"), Decimal("2"))
    assert outcome_from_record(outcome_to_record(outcome)) == outcome
