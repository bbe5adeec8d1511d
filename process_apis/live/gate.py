"""Publishing only what the read models already show.

A subscriber who receives a shipment event and fetches the shipment (through the router, from
the shipments subgraph) must see the change. So the hub holds each event back until every
projection that reads it has applied it: their positions (`stores.positions`) have reached the
event's. Projections run once per deployment, perhaps in another process, so the gate reads
the shared position store; a projection in this process notifies `progressed` after it moves,
which wakes the gate at once instead of at its next poll.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Protocol

from process_apis.live.hub import Wakeup
from stores.event_log import StoredEvent

logger = logging.getLogger(__name__)


class Positions(Protocol):
    async def get(self, consumer: str) -> int: ...


class ReadModelGate:
    """`consumers` names, per aggregate type, the projections an event must have reached."""

    def __init__(
        self,
        positions: Positions,
        consumers: Mapping[str, Sequence[str]],
        progressed: Wakeup,
        *,
        poll_interval_s: float = 0.2,
        warn_every_s: float = 30.0,
    ) -> None:
        self._positions = positions
        self._consumers = {kind: tuple(names) for kind, names in consumers.items()}
        self._progressed = progressed
        self._poll_interval_s = poll_interval_s
        self._warn_every_polls = max(1, round(warn_every_s / poll_interval_s))
        self._reached: dict[str, int] = {}

    async def shown_up_to(self) -> int:
        """The position every projection named here has reached: what the read models show."""
        names = sorted({name for names in self._consumers.values() for name in names})
        for name in names:
            self._reached[name] = max(self._reached.get(name, 0), await self._positions.get(name))
        return min((self._reached[name] for name in names), default=0)

    async def applied(self, event: StoredEvent, stop: asyncio.Event) -> bool:
        for consumer in self._consumers.get(event.envelope.aggregate_type, ()):
            polls = 0
            while self._reached.get(consumer, 0) < event.position:
                if stop.is_set():
                    return False
                self._reached[consumer] = await self._positions.get(consumer)
                if self._reached[consumer] >= event.position:
                    break
                polls += 1
                if polls % self._warn_every_polls == 0:
                    logger.warning(
                        "live updates wait for projection %s to reach position %s (it is at %s)",
                        consumer,
                        event.position,
                        self._reached[consumer],
                    )
                await self._progressed.wait(self._poll_interval_s)
        return True
