"""Shipment tracking: recording carrier milestones durably, and the one view of a shipment.

Recording appends each milestone to the event log (durable, deduplicated by event id) before the
milestone history is updated, so a crash between the two loses nothing: replaying the log
rebuilds the history. Reading merges the TMS booking (carrier, service, packages), the recorded
history and, when the carrier can be asked, its live answer; the current status then follows
`domain.current_milestone`, so a late event never moves a shipment backwards.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from domain.events import utc_now
from domain.shipments import Milestone, Shipment, merge_history
from process_apis.ownership import OrderOwnership
from process_apis.visibility import NotFound, require_visible
from stores.event_log import EventLog
from stores.milestones import MilestoneStore
from system_apis.context import resolve_correlation_id
from system_apis.errors import BackendError, BackendNotFound
from system_apis.milestones import milestone_envelope
from system_apis.tms.client import TmsClient
from system_apis.tms.models import Booking

logger = logging.getLogger(__name__)

LiveTracker = Callable[[str], Awaitable[Sequence[Milestone]]]
"""Asks a carrier for a tracking number's events now."""


@dataclass(frozen=True, slots=True)
class RecordingOutcome:
    recorded: tuple[Milestone, ...]
    duplicates: int


@dataclass(frozen=True, slots=True)
class MilestoneRecorder:
    event_log: EventLog
    history: MilestoneStore

    async def record(
        self, milestones: Iterable[Milestone], *, correlation_id: str | None = None
    ) -> RecordingOutcome:
        """Append, then project; returns the milestones new to the history."""
        correlation = resolve_correlation_id(correlation_id)
        received_at = utc_now()
        batch = list(milestones)
        for milestone in batch:
            await self.event_log.append(
                milestone_envelope(milestone, received_at=received_at, correlation_id=correlation)
            )
        added = await self.history.add(batch)
        return RecordingOutcome(recorded=tuple(added), duplicates=len(batch) - len(added))


@dataclass(frozen=True, slots=True)
class TrackedShipment:
    """A shipment as the gateway shows it; `live` says whether the carrier answered just now."""

    shipment: Shipment
    booking: Booking
    live: bool


@dataclass(frozen=True, slots=True)
class ShipmentTracking:
    tms: TmsClient
    owners: OrderOwnership
    history: MilestoneStore
    live_trackers: Mapping[str, LiveTracker]
    """Carrier code (as the TMS names carriers) to its live tracking call."""

    async def by_tracking_number(self, tenant_id: str, tracking_number: str) -> TrackedShipment:
        try:
            booking = await self.tms.booking_by_tracking_number(tracking_number)
        except BackendNotFound:
            raise NotFound("shipment", tracking_number) from None
        owner = await self.owners.owner_of(booking.shipment.order_id)
        require_visible(owner or "", tenant_id, "shipment", tracking_number)
        return await self._tracked(tenant_id, booking)

    async def for_order(self, tenant_id: str, order_id: str) -> tuple[TrackedShipment, ...]:
        """The order's shipments, each asked of its carrier now; another tenant's order shows
        none."""
        return (await self.for_orders(tenant_id, [order_id]))[order_id]

    async def for_orders(
        self, tenant_id: str, order_ids: Sequence[str]
    ) -> Mapping[str, tuple[TrackedShipment, ...]]:
        """The shipments of each order, for a page of orders in one ownership lookup and one TMS
        listing. One order's shipments are asked of their carriers now; several orders' show
        the recorded history (`live` False), since a carrier answers one shipment per call."""
        owners = await self.owners.owners_of(order_ids)
        visible = [order_id for order_id in order_ids if owners.get(order_id) == tenant_id]
        bookings = await self.tms.bookings_for_orders(visible)
        ask_carriers = len(set(order_ids)) == 1
        tracked = await asyncio.gather(
            *(self._tracked(tenant_id, booking, ask_carrier=ask_carriers) for booking in bookings)
        )
        shipments: dict[str, list[TrackedShipment]] = {order_id: [] for order_id in order_ids}
        for shipment in tracked:
            if shipment.shipment.order_id in shipments:
                shipments[shipment.shipment.order_id].append(shipment)
        return {order_id: tuple(found) for order_id, found in shipments.items()}

    async def _tracked(
        self, tenant_id: str, booking: Booking, *, ask_carrier: bool = True
    ) -> TrackedShipment:
        """The booking with its milestones; the caller has checked that the tenant owns it."""
        shipment = booking.shipment
        recorded = await self.history.history(shipment.tracking_number)
        live_events, live = await self._live(shipment) if ask_carrier else ((), False)
        shipment = dataclasses.replace(
            shipment,
            customer_id=tenant_id,
            milestones=merge_history(recorded, live_events),
        )
        return TrackedShipment(shipment=shipment, booking=booking, live=live)

    async def _live(self, shipment: Shipment) -> tuple[Sequence[Milestone], bool]:
        """The carrier's answer now; when it cannot answer, the recorded history stands alone."""
        tracker = self.live_trackers.get(shipment.carrier)
        if tracker is None:
            return (), False
        try:
            return await tracker(shipment.tracking_number), True
        except BackendError as error:
            logger.warning(
                "live tracking unavailable for %s: %s",
                shipment.tracking_number,
                error.public_message,
            )
            return (), False
