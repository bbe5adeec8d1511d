"""Rate limits: how many requests a caller may send in each window, counted with `limits`.

A caller's quotas are a few `limits` items in its string notation (`"600/minute"`,
`"20/second"`); a request spends one unit of every quota, and is refused when any is spent.
The counters live in a `limits` async storage: in memory on one process, on Redis for a
deployment of several (see `stores.rate_limits`), so every process spends the same quotas.

The strategy is the `limits` one the configuration names. limits 5.8 (the installed version)
offers fixed window, moving window and sliding window counter; it has no GCRA, so GCRA is not
offered. Sliding window counter is the default: two counters per quota whatever its size, and
no double burst across a window's edge as a fixed window allows. Moving window is exact but
keeps a timestamp per request in the window and reads them all to answer the headers, a cost
that grows with the quota.

Why `limits` and not slowapi: slowapi decorates Starlette endpoints and keys each limit by a
function of the `Request`. Our limits apply before any endpoint, to HTTP requests, WebSocket
upgrades and each operation a WebSocket carries alike, keyed by the principal the
authentication stage decided, with numbers per plan and per client from configuration;
slowapi's middleware sees no WebSocket message and writes the older `X-RateLimit-*` headers.
So the pipeline uses what slowapi is built on, `limits`, and writes the IETF headers itself.

Headers follow draft-ietf-httpapi-ratelimit-headers-11 (May 2026): `RateLimit-Policy` lists
each quota as `"<window>s";q=<quota>;w=<window>` and `RateLimit` the state of each as
`"<window>s";r=<remaining>;t=<seconds until more quota>`; a refusal adds `Retry-After`.

When the shared storage cannot be reached, a Redis outage must not take the API down with
it, nor leave it unguarded: with a `fallback` storage (this process's memory), requests are
counted there, so each process still holds every caller to its quotas (a deployment of N
processes then admits up to N times a quota), and the shared storage is tried again
`RETRY_SHARED_AFTER_S` later. Without one, requests pass. Either way it is logged, once per
outage rather than once per request.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from limits import RateLimitItem, parse_many
from limits.aio.storage import Storage
from limits.aio.strategies import (
    FixedWindowRateLimiter,
    MovingWindowRateLimiter,
    RateLimiter,
    SlidingWindowCounterRateLimiter,
)

Strategy = Literal["moving-window", "fixed-window", "sliding-window-counter"]
STRATEGIES: dict[str, type[RateLimiter]] = {
    "moving-window": MovingWindowRateLimiter,
    "fixed-window": FixedWindowRateLimiter,
    "sliding-window-counter": SlidingWindowCounterRateLimiter,
}
MAX_QUOTAS = 4
"""Quotas per plan or client: a burst, a sustained rate and a little more is plenty."""
MAX_WINDOW_S = 86_400
MAX_AMOUNT = 1_000_000_000
_NOTATION = "write COUNT/PERIOD, as 600/minute, 20/second or 1000/10 minutes"
_logger = logging.getLogger("policies.rate_limits")
RETRY_SHARED_AFTER_S = 5.0
"""After the shared counters failed, how long requests are counted in the fallback before the
shared storage is tried again (a request never waits on a storage known to be down)."""


def parse_quota(text: object) -> RateLimitItem:
    """One quota from its string notation; `ValueError` saying exactly what is wrong."""
    if not isinstance(text, str):
        raise ValueError(f"a rate limit is a string ({_NOTATION})")
    shown = text if len(text) <= 40 else text[:40] + "…"
    if len(text) > 64:
        raise ValueError(f"{shown!r} is not a rate limit: over 64 characters ({_NOTATION})")
    try:
        items = parse_many(text)
    except ValueError:
        raise ValueError(
            f"{shown!r} is not a rate limit: {_NOTATION} (periods: second, minute, hour, day)"
        ) from None
    if len(items) != 1:
        raise ValueError(f"{shown!r} holds {len(items)} rate limits; give each its own entry")
    (item,) = items
    if item.amount < 1:
        raise ValueError(f"{shown!r} allows no request at all; the count must be at least 1")
    if item.amount > MAX_AMOUNT:
        raise ValueError(f"{shown!r}: the count must be at most {MAX_AMOUNT}")
    if item.get_expiry() > MAX_WINDOW_S:
        raise ValueError(f"{shown!r}: the period must be at most a day")
    return item


def parse_quotas(texts: Iterable[object]) -> tuple[RateLimitItem, ...]:
    """A plan's or client's quotas, each checked, at most `MAX_QUOTAS`, one per window."""
    given = list(texts)
    if len(given) > MAX_QUOTAS:
        raise ValueError(f"at most {MAX_QUOTAS} rate limits, got {len(given)}")
    items = tuple(parse_quota(text) for text in given)
    windows = [item.get_expiry() for item in items]
    for window in set(windows):
        if windows.count(window) > 1:
            raise ValueError(f"two rate limits share the {window}-second window; keep one")
    return items


@dataclass(frozen=True, slots=True)
class Quota:
    """One quota of a caller: `amount` requests in every `window_s` seconds."""

    item: RateLimitItem

    @classmethod
    def parse(cls, text: str) -> Quota:
        return cls(parse_quota(text))

    @property
    def amount(self) -> int:
        return self.item.amount

    @property
    def window_s(self) -> int:
        return self.item.get_expiry()

    @property
    def name(self) -> str:
        """Its name in the headers: the window, which is unique among a caller's quotas."""
        return f"{self.window_s}s"

    def describe(self) -> str:
        unit = {1: "second", 60: "minute", 3600: "hour", 86_400: "day"}.get(self.window_s)
        period = unit or f"{self.window_s} seconds"
        return f"{self.amount} requests per {period}"


def quotas_of(texts: Iterable[str]) -> tuple[Quota, ...]:
    return tuple(Quota(item) for item in parse_quotas(texts))


@dataclass(frozen=True, slots=True)
class QuotaState:
    quota: Quota
    remaining: int
    reset_s: int
    """Whole seconds until the quota has more room (0: it has room now)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a request may go on, and the state of each quota it was counted against."""

    allowed: bool
    states: tuple[QuotaState, ...] = ()
    exceeded: Quota | None = None

    @property
    def retry_after_s(self) -> int:
        """Whole seconds until the exceeded quota admits a request again (at least 1)."""
        waits = [state.reset_s for state in self.states if state.remaining <= 0]
        return max(1, *waits) if waits else 1

    def headers(self) -> list[tuple[bytes, bytes]]:
        """`RateLimit-Policy` and `RateLimit` (draft-11), and `Retry-After` on a refusal."""
        if not self.states:
            return []
        policy = ", ".join(
            f'"{s.quota.name}";q={s.quota.amount};w={s.quota.window_s}' for s in self.states
        )
        current = ", ".join(
            f'"{s.quota.name}";r={max(0, s.remaining)};t={s.reset_s}' for s in self.states
        )
        headers = [(b"ratelimit-policy", policy.encode()), (b"ratelimit", current.encode())]
        if not self.allowed:
            headers.append((b"retry-after", str(self.retry_after_s).encode()))
        return headers


PASS = Verdict(allowed=True)
"""A request no quota applies to (or whose counters could not be reached)."""


class RateLimits:
    """Spends and reads quotas in one `limits` storage with one strategy; shared by every
    request of a process (the storage is what processes share)."""

    def __init__(
        self,
        storage: Storage,
        strategy: Strategy = "sliding-window-counter",
        *,
        fallback: Storage | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._limiter = STRATEGIES[strategy](storage)
        self._fallback = None if fallback is None else STRATEGIES[strategy](fallback)
        self._clock = clock
        self._shared_down_until: float | None = None
        """While set, the shared storage is known to be down: count in the fallback."""

    async def hit(self, key: Sequence[str], quotas: Sequence[Quota]) -> Verdict:
        """Spend one unit of every quota of `key`; refused when one of them is spent.

        Quotas are spent in order of their windows, shortest first, and spending stops at
        the first refused one, so a burst refused by the per-second quota costs none of the
        per-minute one."""
        return await self._check(key, quotas, "hit")

    async def peek(self, key: Sequence[str], quotas: Sequence[Quota]) -> Verdict:
        """Whether `key` could spend a unit now, spending none."""
        return await self._check(key, quotas, "test")

    async def _check(self, key: Sequence[str], quotas: Sequence[Quota], probe: str) -> Verdict:
        """`probe` (spend or test) each quota, shortest window first, up to the first refusal:
        in the shared storage, or in the fallback while the shared one is down."""
        if not quotas:
            return PASS
        ordered = sorted(quotas, key=lambda quota: quota.window_s)
        down_until = self._shared_down_until
        if down_until is None or self._clock() >= down_until:
            try:
                verdict = await self._counted(self._limiter, key, ordered, probe)
            except Exception:
                self._shared_failed(down_until is not None)
            else:
                if down_until is not None:
                    _logger.warning("rate limit counters reachable again")
                self._shared_down_until = None
                return verdict
        if self._fallback is None:
            return PASS
        return await self._counted(self._fallback, key, ordered, probe)

    def _shared_failed(self, known: bool) -> None:
        self._shared_down_until = self._clock() + RETRY_SHARED_AFTER_S
        if not known:
            where = "counted in this process" if self._fallback is not None else "let through"
            _logger.warning(
                "rate limit counters unreachable; requests %s until they answer again",
                where,
                exc_info=True,
            )

    async def _counted(
        self, limiter: RateLimiter, key: Sequence[str], ordered: Sequence[Quota], probe: str
    ) -> Verdict:
        spend: Callable[..., Awaitable[bool]] = getattr(limiter, probe)
        exceeded = None
        for quota in ordered:
            if not await spend(quota.item, *key):
                exceeded = quota
                break
        return await self._verdict(limiter, key, ordered, exceeded)

    async def clear(self, key: Sequence[str], quotas: Sequence[Quota]) -> None:
        for quota in quotas:
            await self._limiter.clear(quota.item, *key)
            if self._fallback is not None:
                await self._fallback.clear(quota.item, *key)

    async def _verdict(
        self,
        limiter: RateLimiter,
        key: Sequence[str],
        quotas: Sequence[Quota],
        exceeded: Quota | None,
    ) -> Verdict:
        now = self._clock()
        states = []
        for quota in quotas:
            stats = await limiter.get_window_stats(quota.item, *key)
            remaining = 0 if quota is exceeded else max(0, stats.remaining)
            reset = min(quota.window_s, max(0, math.ceil(stats.reset_time - now)))
            if remaining <= 0:
                reset = max(1, reset)
            states.append(QuotaState(quota, remaining, reset))
        return Verdict(allowed=exceeded is None, states=tuple(states), exceeded=exceeded)
