"""Open subscriptions and the events they deliver, counted around the router's streams.

Both wrap what the streaming transports already call: each operation's admission (an admitted
subscription is open until its `release`, whichever transport carries it) and the subscribe
function (each event the stream yields, or the transport takes from it as it arrives, is handed
to the subscriber's connection).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from federation.router.streaming import Admission, Admit, Subscribe
from federation.router.streaming.source import BufferedEventStream, EventStream, StreamEvent
from gateway.metrics import GatewayMetrics


def counting_admit(admit: Admit, metrics: GatewayMetrics) -> Admit:
    async def counted(kind: str, transport: str) -> Admission:
        admission = await admit(kind, transport)
        if admission.refused or kind != "subscription":
            return admission
        metrics.subscription_opened(transport)
        release = admission.release

        def released() -> None:
            metrics.subscription_closed(transport)
            if release is not None:
                release()

        return dataclasses.replace(admission, release=released)

    return counted


class _CountedStream:
    def __init__(self, stream: EventStream, metrics: GatewayMetrics) -> None:
        self._stream = stream
        self._metrics = metrics
        self._events: AsyncIterator[StreamEvent] | None = None

    def __aiter__(self) -> _CountedStream:
        self._events = aiter(self._stream)
        return self

    async def __anext__(self) -> StreamEvent:
        assert self._events is not None
        event = await anext(self._events)
        self._metrics.subscription_event()
        return event

    async def aclose(self) -> None:
        await self._stream.aclose()


class _CountedBufferedStream(_CountedStream):
    """A counted stream whose events the transport takes as they arrive."""

    def __init__(self, stream: BufferedEventStream, metrics: GatewayMetrics) -> None:
        super().__init__(stream, metrics)
        self._buffered = stream

    def when_ready(self, ready: Callable[[], None] | None) -> None:
        self._buffered.when_ready(ready)

    def take(self) -> StreamEvent | None:
        event = self._buffered.take()
        if event is not None:
            self._metrics.subscription_event()
        return event

    @property
    def buffered(self) -> int:
        return self._buffered.buffered

    @property
    def exhausted(self) -> bool:
        return self._buffered.exhausted


def counting_subscribe(subscribe: Subscribe, metrics: GatewayMetrics) -> Subscribe:
    async def counted(
        query: str,
        variables: Mapping[str, Any] | None,
        operation_name: str | None,
        **options: Any,
    ) -> dict[str, Any] | EventStream:
        outcome = await subscribe(query, variables, operation_name, **options)
        if isinstance(outcome, dict):
            return outcome
        if isinstance(outcome, BufferedEventStream):
            return _CountedBufferedStream(outcome, metrics)
        return _CountedStream(outcome, metrics)

    return counted  # type: ignore[return-value]
