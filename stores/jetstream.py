"""The event log on NATS JetStream, for several gateway replicas sharing one backbone.

JetStream's own deduplication (the `Nats-Msg-Id` header within the stream's duplicate window)
turns a redelivered event into a no-op; consumers still dedupe by event id beyond that window.
A publish acknowledgement means the stream has stored the message (file storage).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta

import nats
import orjson
from nats.aio.client import Client
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from domain.events import EventEnvelope, envelope_from_dict, envelope_to_dict
from stores.event_log import AppendResult, StoredEvent

_SUBJECT_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def _token(text: str) -> str:
    return _SUBJECT_UNSAFE.sub("_", text) or "_"


class JetStreamEventLog:
    """One stream, one subject per aggregate type and event type under `subject_prefix`."""

    def __init__(
        self,
        client: Client,
        stream: str = "LOGISTICS_EVENTS",
        subject_prefix: str = "logistics.events",
        duplicate_window: timedelta = timedelta(hours=24),
    ) -> None:
        self._client = client
        self._js: JetStreamContext = client.jetstream()
        self._stream = stream
        self._prefix = subject_prefix
        self._duplicate_window = duplicate_window

    @classmethod
    async def connect(cls, url: str, **options: object) -> JetStreamEventLog:
        client = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=3)
        log = cls(client, **options)  # type: ignore[arg-type]
        await log.ensure_stream()
        return log

    async def ensure_stream(self) -> None:
        try:
            await self._js.stream_info(self._stream)
        except NotFoundError:
            await self._js.add_stream(
                StreamConfig(
                    name=self._stream,
                    subjects=[f"{self._prefix}.>"],
                    storage=StorageType.FILE,
                    duplicate_window=self._duplicate_window.total_seconds(),
                )
            )

    async def append(self, envelope: EventEnvelope) -> AppendResult:
        subject = f"{self._prefix}.{_token(envelope.aggregate_type)}.{_token(envelope.event_type)}"
        ack = await self._js.publish(
            subject,
            orjson.dumps(envelope_to_dict(envelope)),
            stream=self._stream,
            headers={"Nats-Msg-Id": envelope.event_id},
        )
        return AppendResult(position=int(ack.seq), duplicate=bool(ack.duplicate))

    async def read(self, *, after: int = 0, limit: int = 100) -> Sequence[StoredEvent]:
        info = await self._js.stream_info(self._stream)
        if info.state.last_seq <= after:
            return []
        subscription = await self._js.pull_subscribe(
            f"{self._prefix}.>",
            stream=self._stream,
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=after + 1,
                inactive_threshold=30.0,
            ),
        )
        events: list[StoredEvent] = []
        try:
            while len(events) < limit:
                try:
                    batch = await subscription.fetch(min(limit - len(events), 256), timeout=0.5)
                except NatsTimeout:
                    break
                for message in batch:
                    await message.ack()
                    envelope = envelope_from_dict(orjson.loads(message.data))
                    events.append(
                        StoredEvent(
                            position=int(message.metadata.sequence.stream), envelope=envelope
                        )
                    )
                if events and events[-1].position >= info.state.last_seq:
                    break
        finally:
            await subscription.unsubscribe()
        return events

    async def ping(self) -> None:
        """The stream answers; raises while NATS is unreachable."""
        await self._js.stream_info(self._stream)

    async def close(self) -> None:
        await self._client.drain()
