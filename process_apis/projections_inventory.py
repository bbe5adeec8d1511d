"""The inventory read model as a projection of the event log.

`inventory.adjusted` (the WMS's pushes, picks included) and `inventory.position` (the positions
poller's reads of the WMS's stock listing) both carry a whole position with its WMS revision;
the read model (`stores.inventory`) keeps each position's highest revision, so applying is
idempotent and order-free: events seen again after a crash, or arriving late, change nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from domain.inventory import position_from_record
from stores.event_log import StoredEvent
from stores.inventory import InventoryStore, PositionFact
from system_apis.wms.events import ADJUSTED_EVENT_TYPE, POSITION_EVENT_TYPE

logger = logging.getLogger(__name__)

INVENTORY = "inventory"
"""The projection's name: its position in the log is kept under it."""

POSITION_EVENT_TYPES = frozenset({ADJUSTED_EVENT_TYPE, POSITION_EVENT_TYPE})


@dataclass(frozen=True, slots=True)
class InventoryProjection:
    positions: InventoryStore
    name: str = INVENTORY

    async def apply(self, events: Sequence[StoredEvent]) -> None:
        facts: list[PositionFact] = []
        for stored in events:
            envelope = stored.envelope
            if envelope.event_type not in POSITION_EVENT_TYPES:
                continue
            try:
                position = position_from_record(envelope.payload)
            except (KeyError, TypeError, ValueError) as error:
                logger.error(
                    "%s event %s at %d does not read: %s",
                    envelope.event_type,
                    envelope.event_id,
                    stored.position,
                    error,
                )
                continue
            if position.revision is None:
                logger.warning(
                    "%s event %s at %d has no revision; the positions poller brings it",
                    envelope.event_type,
                    envelope.event_id,
                    stored.position,
                )
                continue
            facts.append(PositionFact(position, stored.position))
        await self.positions.record(facts)

    async def reset(self) -> None:
        """Before a rebuild from scratch: forget everything."""
        await self.forget_after(0)

    async def forget_after(self, position: int) -> None:
        """Before a rebuild from `position`: drop what later events brought."""
        await self.positions.forget_after(position)
