"""Live updates for one tenant: which events a subscription may see and what each delivers.

Tenants never see each other's data, here at two points. On subscribing, a shipment or order
the tenant does not own is `NotFound`, exactly as one that does not exist. On every event, an
event stamped with another tenant is never delivered (a workflow event must name the tenant).

A shipment subscription reports every milestone once (the log deduplicates by event id; a
stream also skips an event id it already delivered) and a late, lower-ranked milestone is
still reported, but the shipment's `status` it carries is the current one from the milestone
history (kept in memory: `process_apis.live.statuses`), which never goes backwards; a stream
never reports a lower rank than it already did. Likewise a stock subscription reports a bin's
state once per WMS revision and never an older revision after a newer one (a push and a
sweep's copy of one state are one change).
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from domain.orders import OrderStatus
from domain.shipments import MilestoneStatus, progress_rank
from process_apis.live.changes import InventoryChange, OrderChange, ShipmentChange, WorkflowChange
from process_apis.live.hub import Interest, SubscriptionHub
from process_apis.live.reported import ReportedMilestones
from process_apis.live.statuses import ShipmentStatuses
from process_apis.ownership import OrderOwnership
from process_apis.visibility import NotFound, require_visible
from stores.event_log import StoredEvent
from stores.milestones import MilestoneStore
from system_apis.errors import BackendNotFound
from system_apis.tms.client import TmsClient

DISPATCHED_EVENT_TYPE = "shipment.dispatched"
REMEMBERED_EVENT_IDS = 4096
"""Event ids a stream remembers to skip a redelivery beyond the log's own deduplication."""


class ResumeTooFarBack(Exception):
    """The client's last event id is further back than a subscription replays."""

    def __init__(self, behind: int, limit: int) -> None:
        self.public_message = (
            f"the last event id is {behind} events back; a subscription replays at most "
            f"{limit}: subscribe without it and read the current state"
        )
        super().__init__(self.public_message)


@dataclass(slots=True)
class _SeenEvents:
    """A bounded memory of delivered event ids."""

    ids: set[str] = field(default_factory=set)
    order: deque[str] = field(default_factory=deque)

    def first_time(self, event_id: str) -> bool:
        if event_id in self.ids:
            return False
        self.ids.add(event_id)
        self.order.append(event_id)
        if len(self.order) > REMEMBERED_EVENT_IDS:
            self.ids.discard(self.order.popleft())
        return True


class LiveUpdates:
    """The subscriptions' process API over the hub; `max_replay` bounds a resume's catch-up."""

    def __init__(
        self,
        hub: SubscriptionHub,
        tms: TmsClient,
        owners: OrderOwnership,
        history: MilestoneStore,
        *,
        max_replay: int = 10_000,
    ) -> None:
        self.hub = hub
        self._tms = tms
        self._owners = owners
        self._milestones = ReportedMilestones()
        self._statuses = ShipmentStatuses(history, self._milestones)
        hub.observe(self._statuses.observe)
        self._max_replay = max_replay

    async def close(self) -> None:
        await self.hub.close()

    async def shipment_changes(
        self,
        tenant_id: str,
        *,
        tracking_number: str | None = None,
        order_id: str | None = None,
        after: int | None = None,
    ) -> AsyncIterator[ShipmentChange]:
        """One shipment's changes, or those of every shipment of an order (also the ones
        dispatched after subscribing)."""
        if (tracking_number is None) == (order_id is None):
            raise ValueError("exactly one of tracking_number and order_id")
        start = await self._start(after)
        if tracking_number is not None:
            await self._require_shipment(tenant_id, tracking_number)
            interest = Interest("Shipment", tracking_number)
        else:
            assert order_id is not None
            await self._require_order(tenant_id, order_id)
            bookings = await self._tms.bookings_for_orders([order_id])
            interest = Interest(
                "Shipment",
                accepts=_shipments_of_order(
                    order_id, {booking.shipment.tracking_number for booking in bookings}
                ),
            )
        ranks: dict[str, int] = {}
        statuses: dict[str, MilestoneStatus | None] = {}
        async for event in self._events(interest, tenant_id, start):
            envelope = event.envelope
            status = await self._statuses.at(event)
            rank = progress_rank(status) if status else None
            shipment = envelope.aggregate_id
            if rank is not None and rank < ranks.get(shipment, 0):
                status = statuses.get(shipment)  # history behind this stream: keep what it saw
            elif rank is not None:
                ranks[shipment] = rank
            statuses[shipment] = status
            yield ShipmentChange(
                position=event.position,
                event_type=envelope.event_type,
                occurred_at=envelope.occurred_at,
                tracking_number=shipment,
                milestone=self._milestones.of(event),
                status=status,
            )

    async def order_changes(
        self, tenant_id: str, order_id: str, *, after: int | None = None
    ) -> AsyncIterator[OrderChange]:
        start = await self._start(after)
        await self._require_order(tenant_id, order_id)
        async for event in self._events(Interest("Order", order_id), tenant_id, start):
            yield OrderChange(
                position=event.position,
                event_type=event.envelope.event_type,
                occurred_at=event.envelope.occurred_at,
                order_id=order_id,
                status=_member(OrderStatus, event.envelope.payload.get("status")),
            )

    async def inventory_changes(
        self,
        tenant_id: str,
        sku: str,
        *,
        warehouse_id: str | None = None,
        after: int | None = None,
    ) -> AsyncIterator[InventoryChange]:
        """Stock of an item (items are not tenant data), in one warehouse or all."""
        start = await self._start(after)

        def at_position(event: StoredEvent) -> bool:
            payload = event.envelope.payload
            return payload.get("sku") == sku and warehouse_id in (None, payload.get("warehouse_id"))

        interest = Interest("InventoryPosition", accepts=at_position)
        delivered: dict[tuple[str, str], int] = {}
        async for event in self._events(interest, tenant_id, start):
            payload = event.envelope.payload
            revision = payload.get("revision")
            if isinstance(revision, int) and not isinstance(revision, bool):
                bin_key = (str(payload.get("warehouse_id")), str(payload.get("bin")))
                if revision <= delivered.get(bin_key, -1):
                    continue  # a copy of a reported state, or an older one arriving late
                delivered[bin_key] = revision
            yield InventoryChange(
                position=event.position,
                event_type=event.envelope.event_type,
                occurred_at=event.envelope.occurred_at,
                sku=sku,
                warehouse_id=str(payload.get("warehouse_id")),
                bin=_text(payload.get("bin")),
                unit=_text(payload.get("unit")),
                on_hand=_decimal(payload.get("on_hand")),
                available_to_promise=_decimal(payload.get("available_to_promise")),
                delta=_decimal(payload.get("delta")),
                reason=_text(payload.get("reason")),
            )

    async def workflow_changes(
        self, tenant_id: str, workflow_id: str, *, after: int | None = None
    ) -> AsyncIterator[WorkflowChange]:
        """A workflow's steps; only events that name the tenant (another tenant's workflow,
        like one that does not exist, never reports anything)."""
        start = await self._start(after)
        interest = Interest("Workflow", workflow_id)
        async for event in self._events(interest, tenant_id, start, tenant_required=True):
            payload = event.envelope.payload
            yield WorkflowChange(
                position=event.position,
                event_type=event.envelope.event_type,
                occurred_at=event.envelope.occurred_at,
                workflow_id=workflow_id,
                step=_text(payload.get("step")),
                state=_text(payload.get("state") or payload.get("status")),
            )

    async def _start(self, after: int | None) -> int:
        """Where the stream starts: the client's last event id, or now. Taken before the
        subscription's checks, so nothing that happens while they run is missed."""
        head = await self.hub.current_position()
        if after is None:
            return head
        if head - after > self._max_replay:
            raise ResumeTooFarBack(head - after, self._max_replay)
        return after

    async def _events(
        self,
        interest: Interest,
        tenant_id: str,
        after: int,
        *,
        tenant_required: bool = False,
    ) -> AsyncIterator[StoredEvent]:
        seen = _SeenEvents()
        async with self.hub.listen(interest, after=after) as listener:
            async for event in listener:
                owner = event.envelope.tenant_id
                if owner is None and tenant_required:
                    continue
                if owner is not None and owner != tenant_id:
                    continue
                if seen.first_time(event.envelope.event_id):
                    yield event

    async def _require_shipment(self, tenant_id: str, tracking_number: str) -> None:
        try:
            booking = await self._tms.booking_by_tracking_number(tracking_number)
        except BackendNotFound:
            raise NotFound("shipment", tracking_number) from None
        owner = await self._owners.owner_of(booking.shipment.order_id)
        require_visible(owner or "", tenant_id, "shipment", tracking_number)

    async def _require_order(self, tenant_id: str, order_id: str) -> None:
        owner = await self._owners.owner_of(order_id)
        require_visible(owner or "", tenant_id, "order", order_id)


def _shipments_of_order(order_id: str, tracking_numbers: set[str]) -> Callable[[StoredEvent], bool]:
    """The order's shipments: those booked when subscribing, and any dispatched for the order
    later (the dispatch event adds its tracking number, since the tail sees events in order)."""

    def accepts(event: StoredEvent) -> bool:
        envelope = event.envelope
        if (
            envelope.event_type == DISPATCHED_EVENT_TYPE
            and envelope.payload.get("order_id") == order_id
        ):
            tracking_numbers.add(envelope.aggregate_id)
        return envelope.aggregate_id in tracking_numbers

    return accepts


def _member(kind: type[OrderStatus], value: Any) -> OrderStatus | None:
    try:
        return kind(value)
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None
