"""Parcels: owns Parcel and the subscriptions to a parcel's status (a subscription subgraph).

Events come from a ``ParcelFeed`` the test puts in the context (``feed``), numbered from 1;
a subscriber resuming with ``last_event_id`` gets what followed that event first. Each
event's number travels back as ``extensions.eventId`` through the ``EventIds`` extension.
``parcelTicks`` counts on its own (no feed needed), for subgraphs served over WebSocket;
``padding`` spaces lengthen its statuses (events big enough to fill a socket).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from strawberry.extensions import SchemaExtension


class ParcelFeed:
    """Status changes the test publishes; every listener of a parcel receives each one."""

    def __init__(self) -> None:
        self.history: list[tuple[str, str]] = []
        self.listening = 0
        self.opened = 0
        self._changed = asyncio.Condition()

    async def publish(self, parcel_id: str, status: str) -> None:
        async with self._changed:
            self.history.append((parcel_id, status))
            self._changed.notify_all()

    async def listen(self, parcel_id: str, after: int) -> AsyncGenerator[tuple[str, int], None]:
        self.listening += 1
        self.opened += 1
        try:
            position = after
            while True:
                async with self._changed:
                    await self._changed.wait_for(lambda seen=position: len(self.history) > seen)
                    fresh = self.history[position:]
                for offset, (changed_id, status) in enumerate(fresh, start=position + 1):
                    if changed_id == parcel_id:
                        yield status, offset
                position += len(fresh)
        finally:
            self.listening -= 1


class EventIds(SchemaExtension):
    """Puts the number of the event being sent in ``extensions.eventId``."""

    def get_results(self) -> dict[str, Any]:
        context = self.execution_context.context
        if isinstance(context, dict) and "event_id" in context:
            return {"eventId": context["event_id"]}
        return {}


ACTIVE_TICKS: list[str] = []
"""Ids of the ``parcelTicks`` subscriptions running now (to see upstream closes)."""


@strawberry.federation.type(keys=["id"])
class Parcel:
    id: strawberry.ID
    status: str

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Parcel:
        return Parcel(id=id, status="KNOWN")


@strawberry.type
class Query:
    @strawberry.field
    def parcel(self, id: strawberry.ID) -> Parcel:
        return Parcel(id=id, status="KNOWN")


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def parcel_updated(
        self, info: strawberry.Info, id: strawberry.ID
    ) -> AsyncGenerator[Parcel, None]:
        feed: ParcelFeed = info.context["feed"]
        after = int(info.context.get("last_event_id") or 0)
        async for status, number in feed.listen(str(id), after):
            info.context["event_id"] = str(number)
            yield Parcel(id=id, status=status)

    @strawberry.subscription
    async def parcel_ticks(
        self,
        info: strawberry.Info,
        id: strawberry.ID,
        count: int,
        pause: float = 0.0,
        padding: int = 0,
    ) -> AsyncGenerator[Parcel, None]:
        ACTIVE_TICKS.append(str(id))
        try:
            for number in range(1, count + 1):
                info.context["event_id"] = str(number)
                yield Parcel(id=id, status=f"tick {number}" + " " * padding)
                await asyncio.sleep(pause)
        finally:
            ACTIVE_TICKS.remove(str(id))

    @strawberry.subscription
    async def parcel_broken(
        self, info: strawberry.Info, id: strawberry.ID
    ) -> AsyncGenerator[Parcel, None]:
        yield Parcel(id=id, status="FIRST")
        raise RuntimeError("parcel store at 10.1.2.3:5432 refused the connection")


schema = strawberry.federation.Schema(
    query=Query, subscription=Subscription, types=[Parcel], extensions=[EventIds]
)
