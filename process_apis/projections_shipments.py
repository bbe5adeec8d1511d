"""The shipments read model as a projection of the event log.

`shipment.booked` (the TMS booking poller) and `shipment.dispatched` (WMS webhooks) fill one row
per tracking number (`stores.shipments`); milestones go to the milestone history, the other
projection. Applying is idempotent (a row keeps each source's latest word by log position), so
events seen again after a crash change nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from stores.event_log import StoredEvent
from stores.shipments import BookedShipment, DispatchedShipment, ShipmentStore
from system_apis.tms.events import BOOKED_EVENT_TYPE

logger = logging.getLogger(__name__)

SHIPMENTS = "shipments"
"""The projection's name: its position in the log is kept under it."""

DISPATCHED_EVENT_TYPE = "shipment.dispatched"


@dataclass(frozen=True, slots=True)
class ShipmentsProjection:
    shipments: ShipmentStore
    name: str = SHIPMENTS

    async def apply(self, events: Sequence[StoredEvent]) -> None:
        booked: list[BookedShipment] = []
        dispatched: list[DispatchedShipment] = []
        for stored in events:
            envelope = stored.envelope
            payload = envelope.payload
            try:
                if envelope.event_type == BOOKED_EVENT_TYPE:
                    booked.append(
                        BookedShipment(
                            tracking_number=envelope.aggregate_id,
                            booking_id=str(payload["booking_id"]),
                            order_id=str(payload["order_id"]),
                            carrier=str(payload["carrier"]),
                            service=str(payload.get("service") or ""),
                            packages=tuple(payload.get("packages") or ()),
                            tenant_id=envelope.tenant_id,
                            position=stored.position,
                        )
                    )
                elif envelope.event_type == DISPATCHED_EVENT_TYPE:
                    dispatched.append(
                        DispatchedShipment(
                            tracking_number=envelope.aggregate_id,
                            order_id=str(payload["order_id"]),
                            carrier=str(payload["carrier"]),
                            tenant_id=envelope.tenant_id,
                            position=stored.position,
                        )
                    )
            except (KeyError, TypeError) as error:
                logger.error(
                    "%s event %s at %d does not read: %s",
                    envelope.event_type,
                    envelope.event_id,
                    stored.position,
                    error,
                )
        await self.shipments.record_bookings(booked)
        await self.shipments.record_dispatches(dispatched)

    async def reset(self) -> None:
        """Before a rebuild from scratch: forget everything."""
        await self.forget_after(0)

    async def forget_after(self, position: int) -> None:
        """Before a rebuild from `position`: drop what later events brought."""
        await self.shipments.forget_after(position)
