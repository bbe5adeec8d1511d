"""Each shipment's current status, kept in memory from the events the subscription hub hands out.

Every shipment update a subscriber receives carries the shipment's current status, which the
milestone history decides through two milestones: the furthest progress and the latest
exception (`domain.DecidingMilestones`). Asking the history for them at every event delivered
would cost its queries once per event. Instead each tracking number's pair is loaded once
(`MilestoneStore.deciding`) and from then on kept current by folding in every milestone the hub
hands out (`SubscriptionHub.observe`), all of them, not only those someone listens to. Folding
is idempotent and commutative, so a milestone the loaded history already holds changes nothing,
and one handed out while the load is in flight is folded into what the load brings.

The pair stays the one the history would give because the hub hands a shipment event out only
once the history shows it (`process_apis.live.gate`, `process_apis.services.LIVE_READ_MODELS`):
a load sees everything handed out before it began, and the rest is folded in as it comes. Only
before the hub hands out its first milestone may the history still lag behind the log's head
the hub started from (a resuming subscriber asks about such events), so a load begun then
answers its own ask and is not kept. Like the gate, this takes the history never to lose what
it showed while the process runs.

Entries are bounded (least recently asked goes first; an evicted one is loaded again when next
asked), concurrent asks for one tracking number share one load, and every subscriber gets the
same status for the same event (the first answer is kept for a bounded number of events).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Protocol

from domain.shipments import DecidingMilestones, Milestone, MilestoneStatus
from process_apis.live.reported import ReportedMilestones
from stores.event_log import StoredEvent

TRACKING_NUMBERS_KEPT = 10_000
"""Shipments whose pair is kept (two milestones each: under 10 MB when all are full)."""
ANSWERS_KEPT = 1024
"""Events whose status is kept, so every subscriber reporting one gets the same answer."""


class DecidingHistory(Protocol):
    """The part of the milestone history a status is loaded from (`stores.MilestoneStore`)."""

    async def deciding(self, tracking_number: str) -> tuple[Milestone, ...]: ...


@dataclass(slots=True)
class _Load:
    """A tracking number's pair while the history is asked: what is handed out meanwhile is
    folded in here, and the history's answer is folded in when it comes."""

    deciding: DecidingMilestones = field(default_factory=DecidingMilestones)
    done: asyncio.Task[None] | None = None


class ShipmentStatuses:
    """Register `observe` with the hub before the hub starts handing out events."""

    def __init__(
        self,
        history: DecidingHistory,
        milestones: ReportedMilestones,
        *,
        capacity: int = TRACKING_NUMBERS_KEPT,
        answers_kept: int = ANSWERS_KEPT,
    ) -> None:
        if capacity < 1 or answers_kept < 1:
            raise ValueError("capacity and answers_kept must be 1 or more")
        self._history = history
        self._milestones = milestones
        self._capacity = capacity
        self._answers_kept = answers_kept
        self._entries: OrderedDict[str, DecidingMilestones] = OrderedDict()
        self._loading: dict[str, _Load] = {}
        self._answers: OrderedDict[tuple[str, int], MilestoneStatus | None] = OrderedDict()
        self._history_caught_up = False

    def observe(self, event: StoredEvent) -> None:
        """The hub's observer: fold a milestone it hands out into its shipment's pair."""
        milestone = self._milestones.of(event)
        if milestone is None:
            return  # not a milestone, or one the history projection skips too
        self._history_caught_up = True  # the gate held it until the history had reached it
        tracking_number = milestone.tracking_number
        kept = self._entries.get(tracking_number)
        if kept is not None:
            self._entries[tracking_number] = kept.fold(milestone)
        load = self._loading.get(tracking_number)
        if load is not None:
            load.deciding = load.deciding.fold(milestone)

    async def at(self, event: StoredEvent) -> MilestoneStatus | None:
        """The shipment's current status with `event` applied."""
        envelope = event.envelope
        key = (envelope.aggregate_id, event.position)
        if key in self._answers:
            return self._answers[key]
        deciding = await self._deciding(envelope.aggregate_id)
        milestone = self._milestones.of(event)
        if milestone is not None:
            deciding = deciding.fold(milestone)
        current = deciding.current
        status = self._answers.setdefault(key, current.status if current else None)
        while len(self._answers) > self._answers_kept:
            self._answers.popitem(last=False)
        return status

    async def _deciding(self, tracking_number: str) -> DecidingMilestones:
        kept = self._entries.get(tracking_number)
        if kept is not None:
            self._entries.move_to_end(tracking_number)
            return kept
        load = self._loading.get(tracking_number)
        if load is None:
            load = self._loading[tracking_number] = _Load()
            load.done = asyncio.create_task(
                self._load(tracking_number, load, keep=self._history_caught_up)
            )
        assert load.done is not None
        await asyncio.shield(load.done)  # a failed load is asked again by the next ask
        return self._entries.get(tracking_number, load.deciding)

    async def _load(self, tracking_number: str, load: _Load, *, keep: bool) -> None:
        try:
            loaded = await self._history.deciding(tracking_number)
        finally:
            del self._loading[tracking_number]
        load.deciding = load.deciding.fold_all(loaded)
        if keep:
            self._entries[tracking_number] = load.deciding
            if len(self._entries) > self._capacity:
                self._entries.popitem(last=False)
