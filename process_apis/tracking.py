"""Shipment tracking: recording carrier milestones durably, and the one view of a shipment.

Recording appends each milestone to the event log (durable, deduplicated by event id) and does
nothing else: the milestone history is a projection of the log, so a crash after the append
loses nothing (the projection catches up when the process is back). Reading answers from the
read models only (the shipments read model and the milestone history); the current status
follows `domain.current_milestone`, so a late event never moves a shipment backwards.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from domain.events import utc_now
from domain.shipments import Milestone, Package, Shipment, merge_history
from domain.units import Weight, WeightUnit
from process_apis.freshness import CARRIER_SOURCES, Freshness, FreshnessSnapshot, SourceFreshness
from process_apis.ownership import OrderOwnership
from process_apis.visibility import NotFound, require_visible
from stores.event_log import EventLog
from stores.milestones import MilestoneStore
from stores.shipments import ShipmentRecord, ShipmentStore
from system_apis.context import resolve_correlation_id
from system_apis.milestones import milestone_envelope


@dataclass(frozen=True, slots=True)
class RecordingOutcome:
    """`recorded`: the milestones new to the event log; `duplicates`: those it already had."""

    recorded: tuple[Milestone, ...]
    duplicates: int


@dataclass(frozen=True, slots=True)
class MilestoneRecorder:
    """Accepting carrier milestones writes the event log and nothing else.

    Once `record` returns, every milestone is durable in the log (the ingress may acknowledge,
    the poller may move its cursor); the milestone history and the shipments read model are
    projections of the log (`process_apis.projections`) and catch up on their own, also after
    a crash between the append and the projection. A delivery's milestones are appended at
    once, in their order (the log takes appends in the order they are made; the SQL log
    commits them together), so a batch costs one commit, not one per milestone."""

    event_log: EventLog

    async def record(
        self, milestones: Iterable[Milestone], *, correlation_id: str | None = None
    ) -> RecordingOutcome:
        correlation = resolve_correlation_id(correlation_id)
        received_at = utc_now()
        batch = list(milestones)
        appended = await self.event_log.append_all(
            [
                milestone_envelope(m, received_at=received_at, correlation_id=correlation)
                for m in batch
            ]
        )
        recorded = tuple(
            m for m, result in zip(batch, appended, strict=True) if not result.duplicate
        )
        return RecordingOutcome(recorded=recorded, duplicates=len(batch) - len(recorded))


@dataclass(frozen=True, slots=True)
class TrackedShipment:
    """A shipment as the gateway shows it, answered from the read models (never a live TMS or
    carrier call, so it answers while they are down). `position`: the last event of the log
    that changed the shipment's record; `freshness`: how current its sources (the TMS and
    its carrier) were when asked; `live` is always False now and kept for the schema's `live`
    field."""

    shipment: Shipment
    freshness: Freshness
    position: int = 0
    live: bool = False


@dataclass(frozen=True, slots=True)
class ShipmentTracking:
    """Portal reads of shipments: the shipments read model (booking and dispatch) with the
    milestone history (the timeline, hence the current status by `domain.current_milestone`).

    The tenant is the one the events named; where none did, the order's owner (asked of the
    ERP once, then cached)."""

    shipments: ShipmentStore
    history: MilestoneStore
    owners: OrderOwnership
    freshness: SourceFreshness

    async def by_tracking_number(self, tenant_id: str, tracking_number: str) -> TrackedShipment:
        record = await self.shipments.by_tracking_number(tracking_number)
        if record is None or record.order_id is None:
            raise NotFound("shipment", tracking_number)
        owner = record.tenant_id or await self.owners.owner_of(record.order_id)
        require_visible(owner or "", tenant_id, "shipment", tracking_number)
        timeline = await self.history.history(tracking_number)
        return _tracked(record, tenant_id, timeline, await self.freshness.snapshot())

    async def for_order(self, tenant_id: str, order_id: str) -> tuple[TrackedShipment, ...]:
        """The order's shipments; another tenant's order shows none."""
        return (await self.for_orders(tenant_id, [order_id]))[order_id]

    async def for_orders(
        self, tenant_id: str, order_ids: Sequence[str]
    ) -> Mapping[str, tuple[TrackedShipment, ...]]:
        """The shipments of each order, for a page of orders in three queries (and, for orders
        whose events named no tenant, one ownership lookup)."""
        records = await self.shipments.for_orders(order_ids)
        unnamed = [
            order_id
            for order_id, found in records.items()
            if any(record.tenant_id is None for record in found)
        ]
        owners = await self.owners.owners_of(unnamed) if unnamed else {}
        visible = {
            order_id: [
                record
                for record in found
                if (record.tenant_id or owners.get(order_id)) == tenant_id
            ]
            for order_id, found in records.items()
        }
        numbers = [record.tracking_number for found in visible.values() for record in found]
        timelines = await self.history.histories(numbers) if numbers else {}
        heard = await self.freshness.snapshot()
        return {
            order_id: tuple(
                _tracked(record, tenant_id, timelines.get(record.tracking_number, ()), heard)
                for record in visible.get(order_id, ())
            )
            for order_id in order_ids
        }


def _tracked(
    record: ShipmentRecord,
    tenant_id: str,
    timeline: Sequence[Milestone],
    heard: FreshnessSnapshot,
) -> TrackedShipment:
    """The record as a canonical shipment; the caller has checked that the tenant owns it."""
    shipment = Shipment(
        shipment_id=record.booking_id or "",
        order_id=record.order_id or "",
        customer_id=tenant_id,
        carrier=record.carrier or "",
        service=record.service or "",
        tracking_number=record.tracking_number,
        packages=tuple(_package(package) for package in record.packages),
        milestones=merge_history(timeline),
    )
    return TrackedShipment(
        shipment=shipment, freshness=heard.of(*shipment_sources(shipment)), position=record.position
    )


def shipment_sources(shipment: Shipment) -> tuple[str, ...]:
    """Whose silence makes a shipment's answer stale: the TMS (its booking) and the carrier
    that owns its milestones."""
    carrier = CARRIER_SOURCES.get(shipment.carrier)
    return ("tms", carrier) if carrier else ("tms",)


def _package(record: Mapping[str, Any]) -> Package:
    return Package(
        package_id=str(record["package_id"]),
        weight=Weight(Decimal(str(record["weight_kg"])), WeightUnit.KILOGRAM),
        length_cm=record.get("length_cm"),
        width_cm=record.get("width_cm"),
        height_cm=record.get("height_cm"),
    )
