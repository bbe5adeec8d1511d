"""The milestone history as a projection of the event log's `shipment.milestone` events.

Accepting a carrier event writes the log only; this projection then brings it into the
history (`stores.milestones`). Applying is idempotent (rows are keyed by event id), so events
seen again after a crash change nothing, and a late or duplicate event is kept in the history
without ever moving a status backwards (`domain.current_milestone` reads the whole history).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from stores.event_log import StoredEvent
from stores.milestones import MilestoneStore
from system_apis.milestones import MILESTONE_EVENT_TYPE, milestone_from_payload

logger = logging.getLogger(__name__)

MILESTONE_HISTORY = "milestone-history"
"""The projection's name: its position in the log is kept under it."""


@dataclass(frozen=True, slots=True)
class MilestoneHistoryProjection:
    history: MilestoneStore
    name: str = MILESTONE_HISTORY

    async def apply(self, events: Sequence[StoredEvent]) -> None:
        milestones = []
        positions: dict[str, int] = {}
        for stored in events:
            envelope = stored.envelope
            if envelope.event_type != MILESTONE_EVENT_TYPE:
                continue
            try:
                milestone = milestone_from_payload(envelope.payload)
            except (KeyError, TypeError, ValueError) as error:
                # The log only holds what a parser accepted; a payload that no longer reads
                # is a bug to look at, not a reason to stop every later event.
                logger.error(
                    "milestone event %s at %d does not read: %s",
                    envelope.event_id,
                    stored.position,
                    error,
                )
                continue
            milestones.append(milestone)
            positions.setdefault(milestone.event_id, stored.position)
        await self.history.add(milestones, positions=positions)

    async def reset(self) -> None:
        """Before a rebuild from scratch: forget everything."""
        await self.forget_after(0)

    async def forget_after(self, position: int) -> None:
        """Before a rebuild from `position`: drop what later events brought."""
        await self.history.forget_after(position)
