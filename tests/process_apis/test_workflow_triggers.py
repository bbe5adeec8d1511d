"""Which events start which workflow, and that history older than `since` starts none."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from domain.events import EventEnvelope, SourceSystem
from process_apis.workflows.engine import (
    Step,
    StepInput,
    WorkflowDefinition,
    WorkflowEngine,
)
from process_apis.workflows.triggers import WorkflowTriggers, trigger_of
from stores import open_stores
from stores.event_log import StoredEvent
from stores.shipments import BookedShipment

SINCE = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def event(event_type: str, aggregate: str, status: str, occurred_at: datetime) -> EventEnvelope:
    return EventEnvelope(
        event_id=f"{event_type}:{aggregate}:{occurred_at.isoformat()}",
        event_type=event_type,
        source=SourceSystem.ERP,
        source_name="ERP",
        aggregate_type="Order",
        aggregate_id=aggregate,
        occurred_at=occurred_at,
        received_at=occurred_at,
        correlation_id="corr",
        tenant_id="C-1001",
        payload={"status": status},
    )


def test_a_release_starts_order_to_ship_and_a_delivery_starts_ship_to_invoice():
    released = trigger_of(event("order.changed", "SO-1", "RELEASED", SINCE))
    assert released is not None and (released.kind, released.subject) == ("order-to-ship", "SO-1")
    delivered = trigger_of(event("shipment.milestone", "SP1", "DELIVERED", SINCE))
    assert delivered is not None and delivered.kind == "ship-to-invoice"
    assert trigger_of(event("order.changed", "SO-1", "OPEN", SINCE)) is None


@given(
    offset_s=st.integers(min_value=-10 * 86_400, max_value=10 * 86_400),
    kind=st.sampled_from([("order.changed", "RELEASED"), ("shipment.milestone", "DELIVERED")]),
)
def test_only_what_happened_at_or_after_since_starts_a_workflow(offset_s, kind):
    at = SINCE + timedelta(seconds=offset_s)
    started = trigger_of(event(kind[0], "SUBJ-1", kind[1], at), since=SINCE)
    assert (started is not None) == (at >= SINCE)
    assert trigger_of(event(kind[0], "SUBJ-1", kind[1], at)) is not None, "unset: every one"


async def test_a_delivery_naming_no_customer_starts_invoicing_as_the_shipments_customer(tmp_path):
    """A carrier's event names no customer; the shipments read model knows whose it is, so
    the customer sees its invoicing (workflow(id), workflowChanged) from the start."""
    stores = await open_stores(f"sqlite+aiosqlite:///{tmp_path / 'state.sqlite3'}")
    try:
        await stores.shipments.record_bookings(
            [BookedShipment("SP1", "BK-1", "SO-1", "SWFT", "STANDARD", (), "C-1001", 1)]
        )

        async def step(_: StepInput) -> dict:
            return {}

        definitions = {
            kind: WorkflowDefinition(kind, (Step("only", step),))
            for kind in ("ship-to-invoice", "order-to-ship")
        }
        engine = WorkflowEngine(stores.workflows, stores.event_log, definitions)
        triggers = WorkflowTriggers(engine, shipments=stores.shipments)
        delivered = event("shipment.milestone", "SP1", "DELIVERED", SINCE)
        unknown = event("shipment.milestone", "SP2", "DELIVERED", SINCE)
        await triggers.apply([StoredEvent(1, replace(delivered, tenant_id=None))])
        await triggers.apply([StoredEvent(2, replace(unknown, tenant_id=None))])
        known = await stores.workflows.get("ship-to-invoice.SP1")
        assert known is not None and known.tenant_id == "C-1001"
        nobody = await stores.workflows.get("ship-to-invoice.SP2")
        assert nobody is not None and nobody.tenant_id is None, "unknown until its first step"
    finally:
        await stores.close()
