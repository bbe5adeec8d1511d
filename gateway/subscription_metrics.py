"""Open subscriptions and the events they deliver, counted around the router's streams.

Both wrap what the streaming transports already call: each operation's admission (an admitted
subscription is open until its `release`, whichever transport carries it) and the subscribe
function (each event the stream yields is handed to the subscriber's connection).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Mapping
from typing import Any

from federation.router.streaming import Admission, Admit, Subscribe
from federation.router.streaming.source import EventStream, StreamEvent
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
        return _CountedStream(outcome, metrics)

    return counted  # type: ignore[return-value]
