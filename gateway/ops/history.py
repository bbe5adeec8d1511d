"""The last hour of this process, minute by minute: events applied and their lag, and each
client's requests and rate-limit rejections.

Kept in memory, per process, in rings of `MINUTES` one-minute slots that are reused as the
clock moves on, so memory never grows with traffic or uptime: a source or a client costs one
ring, and at most `MAX_CLIENTS` clients (the least recently seen is forgotten first) and
`MAX_SOURCES` sources are kept. A restart starts an empty hour; on a deployment of several
processes each one shows what it applied and served itself (consumers run where their lease
is held, requests land where the load balancer sends them).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from policies.principal import Principal
from stores.event_log import StoredEvent

MINUTES = 60
MAX_CLIENTS = 1000
MAX_SOURCES = 64
Clock = Callable[[], float]


class MinuteRing:
    """`width` numbers per minute for the last `MINUTES` minutes; older minutes read as 0."""

    __slots__ = ("_slots", "width")

    def __init__(self, width: int) -> None:
        self.width = width
        self._slots: list[tuple[int, list[float]] | None] = [None] * MINUTES

    def at(self, minute: int) -> list[float]:
        """The counters of `minute` (a fresh slot when the ring last held an older minute)."""
        index = minute % MINUTES
        slot = self._slots[index]
        if slot is None or slot[0] != minute:
            slot = (minute, [0.0] * self.width)
            self._slots[index] = slot
        return slot[1]

    def series(self, now_minute: int) -> list[list[float]]:
        """Each minute's counters, oldest first, ending with `now_minute`."""
        out = []
        for minute in range(now_minute - MINUTES + 1, now_minute + 1):
            slot = self._slots[minute % MINUTES]
            out.append(
                list(slot[1]) if slot is not None and slot[0] == minute else [0.0] * self.width
            )
        return out


def minute_of(now: float) -> int:
    return int(now // 60)


@dataclass(frozen=True, slots=True)
class SourceFlow:
    applied: list[int]
    """Events applied in each minute, oldest first."""
    lag_mean_s: list[float]
    lag_max_s: list[float]


class EventFlow:
    """Events applied by this process's consumers, per source, and how late: from the event's
    occurred-at to when it was first applied here. Each event counts once, however many
    consumers apply it (the first to reach its position counts it)."""

    def __init__(self, clock: Clock = time.time) -> None:
        self._clock = clock
        self._rings: dict[str, MinuteRing] = {}
        self._counted_through = 0

    def observe(self, consumer: str, events: Sequence[StoredEvent]) -> None:
        """The consumer runner's `on_applied` hook."""
        now = self._clock()
        minute = minute_of(now)
        for stored in events:
            if stored.position <= self._counted_through:
                continue
            envelope = stored.envelope
            source = envelope.source_name or str(envelope.source)
            ring = self._rings.get(source)
            if ring is None:
                if len(self._rings) >= MAX_SOURCES:
                    continue
                ring = self._rings[source] = MinuteRing(3)
            lag = max(0.0, now - envelope.occurred_at.timestamp())
            counters = ring.at(minute)
            counters[0] += 1
            counters[1] += lag
            counters[2] = max(counters[2], lag)
        if events:
            self._counted_through = max(self._counted_through, events[-1].position)

    def minutes(self) -> list[int]:
        """The start of each minute of the series, in seconds since the epoch."""
        now_minute = minute_of(self._clock())
        return [minute * 60 for minute in range(now_minute - MINUTES + 1, now_minute + 1)]

    def by_source(self) -> dict[str, SourceFlow]:
        now_minute = minute_of(self._clock())
        flows = {}
        for source, ring in sorted(self._rings.items()):
            series = ring.series(now_minute)
            flows[source] = SourceFlow(
                applied=[int(count) for count, _, _ in series],
                lag_mean_s=[
                    round(total / count, 3) if count else 0.0 for count, total, _ in series
                ],
                lag_max_s=[round(highest, 3) for _, _, highest in series],
            )
        return flows


@dataclass(frozen=True, slots=True)
class ClientFigures:
    client_id: str
    tenant_id: str
    per_minute: float
    """Requests per minute over the last `RATE_MINUTES` minutes."""
    requests_last_hour: int
    rejections_last_hour: int


RATE_MINUTES = 5


class ClientTraffic:
    """Requests and rate-limit rejections (429) per authenticated client."""

    def __init__(self, clock: Clock = time.time) -> None:
        self._clock = clock
        self._rings: dict[str, tuple[str, MinuteRing]] = {}

    def record(self, principal: Principal, rejected: bool) -> None:
        entry = self._rings.pop(principal.client_id, None)
        if entry is None:
            if len(self._rings) >= MAX_CLIENTS:
                del self._rings[next(iter(self._rings))]  # the least recently seen
            entry = (principal.tenant_id, MinuteRing(2))
        self._rings[principal.client_id] = entry  # most recently seen last
        counters = entry[1].at(minute_of(self._clock()))
        counters[0] += 1
        if rejected:
            counters[1] += 1

    def top(self, count: int) -> list[ClientFigures]:
        """The busiest clients: by recent request rate, then rejections."""
        now = self._clock()
        now_minute = minute_of(now)
        # The current minute has only run `into` seconds: the rate covers what has elapsed.
        into = now - now_minute * 60
        elapsed_min = (RATE_MINUTES - 1) + max(into, 1.0) / 60
        figures = []
        for client_id, (tenant_id, ring) in self._rings.items():
            series = ring.series(now_minute)
            recent = sum(requests for requests, _ in series[-RATE_MINUTES:])
            figures.append(
                ClientFigures(
                    client_id=client_id,
                    tenant_id=tenant_id,
                    per_minute=round(recent / elapsed_min, 2),
                    requests_last_hour=int(sum(requests for requests, _ in series)),
                    rejections_last_hour=int(sum(rejected for _, rejected in series)),
                )
            )
        figures = [figure for figure in figures if figure.requests_last_hour]
        figures.sort(
            key=lambda f: (
                -f.per_minute,
                -f.rejections_last_hour,
                -f.requests_last_hour,
                f.client_id,
            )
        )
        return figures[:count]


REJECTED = 429
TRY_AGAIN_LATER = 1013
"""How a WebSocket upgrade refused by the rate limits is closed where 429 cannot be sent."""


class TrafficCounter:
    """After authentication and before the rate limits: counts each authenticated request
    (HTTP of any method, WebSocket upgrades) for its client, and whether it was refused 429."""

    def __init__(self, app: ASGIApp, *, traffic: ClientTraffic) -> None:
        self.app = app
        self.traffic = traffic

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = scope.get("state", {}).get("principal")
        if scope["type"] not in ("http", "websocket") or not isinstance(principal, Principal):
            await self.app(scope, receive, send)
            return
        recorded = False

        async def watching(message: Message) -> None:
            nonlocal recorded
            if not recorded and message["type"] in (
                "http.response.start",
                "websocket.http.response.start",
                "websocket.accept",
                "websocket.close",
            ):
                recorded = True
                refused = message.get("status") == REJECTED or (
                    message["type"] == "websocket.close" and message.get("code") == TRY_AGAIN_LATER
                )
                self.traffic.record(principal, refused)
            await send(message)

        try:
            await self.app(scope, receive, watching)
        finally:
            if not recorded:
                self.traffic.record(principal, False)
