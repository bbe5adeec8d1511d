"""How fresh an answer from the read models is: when its sources were last heard from, and
whether that is longer ago than the window each source is allowed.

Read models answer while a backend is down; what they cannot do is say so by themselves. Every
answer built from them therefore carries a `Freshness`: `as_of`, the moment its sources were
last heard from (the oldest of them; None when one never was), and `stale`, true when one of
them has not been heard from within its window. A source is heard from when a poll round of
it completes, even an empty one, or a webhook of it is accepted (`heard_from`, which the
pollers and the webhook ingress call); the times live in the shared SQL store
(`stores.freshness`), so every process of a deployment sees what any of them heard.

Use: `await freshness.of("erp")` for one answer, or `snapshot = await freshness.snapshot()`
then `snapshot.of(...)` for many answers from one read of the store.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from domain.events import utc_now
from stores.freshness import HeardStore

logger = logging.getLogger(__name__)

SOURCES = ("erp", "wms", "tms", "swiftparcel", "roadline", "heritage")
"""The backends whose silence makes answers stale, by their configuration names."""

CARRIER_SOURCES: Mapping[str, str] = {"SWFT": "swiftparcel", "RDLN": "roadline", "HRTG": "heritage"}
"""The source that owns a carrier code's milestones."""

DEFAULT_WINDOWS_S: Mapping[str, float] = {
    "erp": 60.0,
    "wms": 120.0,
    "tms": 120.0,
    "swiftparcel": 3600.0,
    "roadline": 120.0,
    "heritage": 120.0,
}
"""Polled sources (ERP, TMS, the WMS's stock sweep, RoadLine, Heritage) are asked every few
seconds, so a minute or two of silence means they do not answer; SwiftParcel only pushes when
something happens, so its silence says little and its window is long."""

NOTE_AT_MOST_EVERY_S = 1.0
"""A source heard again within a quarter of its window (and at most this long) by this process
is not written again: a burst of webhooks or a feed polled each second costs one write now and
then, and `as_of` is never older than a quarter of the window for it."""


@dataclass(frozen=True, slots=True)
class Freshness:
    """How current an answer is: `as_of`, when its sources were last heard from (the oldest of
    them; None when one never was); `stale`, true when one was not heard within its window."""

    as_of: datetime | None
    stale: bool


@dataclass(frozen=True, slots=True)
class FreshnessSnapshot:
    """What the store said at one moment; answers many `of` questions without reading again."""

    heard: Mapping[str, datetime]
    windows_s: Mapping[str, float]
    now: datetime

    def of(self, *sources: str) -> Freshness:
        """The freshness of an answer made from `sources` (each named in `SOURCES`)."""
        if not sources:
            raise ValueError("an answer comes from at least one source")
        times = [self.heard.get(source) for source in sources]
        known = [at for at in times if at is not None]
        as_of = min(known) if len(known) == len(times) else None
        stale = any(
            at is None or self.now - at > timedelta(seconds=self.windows_s[source])
            for source, at in zip(sources, times, strict=True)
        )
        return Freshness(as_of=as_of, stale=stale)


@dataclass(slots=True)
class SourceFreshness:
    """Notes when sources are heard from, and tells how fresh answers from them are."""

    store: HeardStore
    windows_s: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WINDOWS_S))
    clock: Callable[[], datetime] = utc_now
    _noted: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = set(SOURCES) - set(self.windows_s)
        if missing:
            raise ValueError(f"no freshness window for {sorted(missing)}")

    async def heard_from(self, source: str) -> None:
        """`source` just answered (a poll round completed, a webhook was accepted)."""
        if source not in self.windows_s:
            raise ValueError(f"unknown source {source!r}")
        now = time.monotonic()
        every_s = min(NOTE_AT_MOST_EVERY_S, self.windows_s[source] / 4)
        before = self._noted.get(source, float("-inf"))
        if now - before < every_s:
            return
        self._noted[source] = now  # before the write: concurrent deliveries skip theirs
        try:
            await self.store.heard(source, self.clock())
        except BaseException:
            self._noted[source] = before
            raise

    def listener(self, source: str) -> Callable[[], Awaitable[None]]:
        """`heard_from(source)` as a callback of no arguments, for a poller."""

        async def heard() -> None:
            await self.heard_from(source)

        return heard

    async def snapshot(self) -> FreshnessSnapshot:
        return FreshnessSnapshot(await self.store.last_heard(), self.windows_s, self.clock())

    async def of(self, *sources: str) -> Freshness:
        return (await self.snapshot()).of(*sources)
