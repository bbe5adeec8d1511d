"""The event log on NATS JetStream, for several gateway replicas sharing one backbone.

JetStream's own deduplication (the `Nats-Msg-Id` header within the stream's duplicate window)
turns a redelivered event into a no-op; consumers still dedupe by event id beyond that window.
A publish acknowledgement means the stream has stored the message (file storage).

NATS may go away for any length of time (a restart, an upgrade, a network cut). The connection
then reconnects for ever, waiting longer after each failed attempt up to a ceiling. Meanwhile
an append fails at once with `EventLogUnavailable` instead of queueing behind the outage, so
an ingress answers its sender "try again" while it can still be heard; once the connection is
back, appends succeed again. Reading asks the stream for messages by sequence number (the
stream's message-get API, many requests in flight at once), so it creates no consumer,
however often it is called.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import nats
import orjson
from nats.aio.client import Client, Server
from nats.errors import ConnectionClosedError, NoRespondersError, OutboundBufferLimitError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg, StorageType, StreamConfig
from nats.js.errors import (
    BadRequestError,
    NotFoundError,
    ServerError,
    ServiceUnavailableError,
)

from domain.events import EventEnvelope, envelope_to_dict
from stores.event_log import AppendResult, DecodedEvents, EventLogUnavailable, StoredEvent

_SUBJECT_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_UNREACHABLE = (
    NatsTimeout,
    NoRespondersError,
    ConnectionClosedError,
    OutboundBufferLimitError,
    ServiceUnavailableError,
)
logger = logging.getLogger(__name__)


def _token(text: str) -> str:
    return _SUBJECT_UNSAFE.sub("_", text) or "_"


def reconnect_backoff(
    base_s: float, max_s: float, random: Callable[[], float] = random.random
) -> Callable[[list[Server], dict[str, Any]], tuple[Server | None, float]]:
    """nats-py's server choice hook, used for its delay: exponential in the failed attempts
    since the last success, capped at `max_s`, with full jitter so replicas do not stampede."""

    def choose(servers: list[Server], _info: dict[str, Any]) -> tuple[Server | None, float]:
        attempts = min((server.reconnects for server in servers), default=0)
        ceiling = min(max_s, base_s * 2 ** min(attempts, 30))
        return None, ceiling * random()

    return choose


class EventLogMisconfigured(Exception):
    """The configured stream or subject prefix clashes with what the NATS server holds."""


class JetStreamEventLog:
    """One stream, one subject per aggregate type and event type under `subject_prefix`."""

    def __init__(
        self,
        client: Client,
        stream: str = "LOGISTICS_EVENTS",
        subject_prefix: str = "logistics.events",
        duplicate_window: timedelta = timedelta(hours=24),
        request_timeout_s: float = 2.0,
        replicas: int = 1,
    ) -> None:
        self._client = client
        self._decoded = DecodedEvents()
        self._js: JetStreamContext = client.jetstream(timeout=request_timeout_s)
        self._stream = stream
        self._prefix = subject_prefix
        self._duplicate_window = duplicate_window
        self._timeout = request_timeout_s
        self._replicas = replicas

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        reconnect_base_s: float = 0.1,
        reconnect_max_s: float = 5.0,
        **options: Any,
    ) -> JetStreamEventLog:
        """Connect (the first connection must succeed) and keep reconnecting for ever after.
        `url` may name several servers of a cluster, separated by commas: any one answering
        is enough to start, and the client moves to another when its server goes."""

        async def report(error: Exception) -> None:
            logger.warning("event log: NATS connection problem: %s", error)

        client = await nats.connect(
            [part.strip() for part in url.split(",")],
            connect_timeout=2,
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_to_server_handler=reconnect_backoff(reconnect_base_s, reconnect_max_s),
            error_cb=report,
        )
        log = cls(client, **options)
        try:
            await log.ensure_stream()
        except BaseException:
            await client.close()
            raise
        return log

    @property
    def connected(self) -> bool:
        return self._client.is_connected

    async def ensure_stream(self) -> None:
        """Create the stream, or check that the existing one holds this log's subjects.

        Several deployments may share one NATS, each with its own stream and subject prefix;
        a stream or prefix taken by another deployment is refused here, naming both, rather
        than mixing two deployments' events."""
        subjects = f"{self._prefix}.>"
        try:
            info = await self._js.stream_info(self._stream)
        except NotFoundError:
            try:
                await self._js.add_stream(
                    StreamConfig(
                        name=self._stream,
                        subjects=[subjects],
                        storage=StorageType.FILE,
                        duplicate_window=self._duplicate_window.total_seconds(),
                        num_replicas=self._replicas,
                    )
                )
            except (BadRequestError, ServerError) as error:
                raise EventLogMisconfigured(
                    f"cannot create stream {self._stream} for subjects {subjects}: "
                    f"{error.description}"
                ) from None
            return
        if subjects not in (info.config.subjects or []):
            raise EventLogMisconfigured(
                f"stream {self._stream} exists with subjects {info.config.subjects}, "
                f"not {subjects}: another deployment's stream, or a changed subject prefix"
            )

    async def append(self, envelope: EventEnvelope) -> AppendResult:
        """Durable once it returns; `EventLogUnavailable` at once while NATS is away."""
        self._require_connection("append")
        subject = f"{self._prefix}.{_token(envelope.aggregate_type)}.{_token(envelope.event_type)}"
        try:
            ack = await self._js.publish(
                subject,
                orjson.dumps(envelope_to_dict(envelope)),
                stream=self._stream,
                headers={"Nats-Msg-Id": envelope.event_id},
            )
        except _UNREACHABLE as error:
            raise EventLogUnavailable(f"event log did not confirm the append: {error}") from error
        return AppendResult(position=int(ack.seq), duplicate=bool(ack.duplicate))

    async def append_all(self, envelopes: Sequence[EventEnvelope]) -> list[AppendResult]:
        """Published concurrently (started in their order), each acknowledged on its own."""
        return list(await asyncio.gather(*(self.append(envelope) for envelope in envelopes)))

    async def read(self, *, after: int = 0, limit: int = 100) -> Sequence[StoredEvent]:
        """Up to `limit` events after position `after`: the stream's last sequence number, then
        every message up to it asked for at once (one round trip's wait, not one per event);
        a sequence number with no message (deleted) is skipped. Events another reader of this
        process has read already are not asked for again (`DecodedEvents`): a run of them read
        after `after` is answered from memory, without asking the stream."""
        self._require_connection("read")
        return await self._decoded.read(after, limit, self._fetch)

    async def _fetch(
        self, after: int, limit: int, sending: Callable[[], None]
    ) -> list[StoredEvent]:
        sending()
        try:
            last = int((await self._js.stream_info(self._stream)).state.last_seq)
            wanted = range(after + 1, min(last, after + limit) + 1)
            found = {
                sequence: event
                for sequence in wanted
                if (event := self._decoded.known(sequence)) is not None
            }
            missing = [sequence for sequence in wanted if sequence not in found]
            messages = await asyncio.gather(*(self._message(sequence) for sequence in missing))
        except _UNREACHABLE as error:
            raise EventLogUnavailable(f"event log could not be read: {error}") from error
        for message in messages:
            if message is not None:
                sequence = int(message.seq)
                found[sequence] = self._decoded.event(sequence, message.data or b"{}")
        return [found[sequence] for sequence in wanted if sequence in found]

    async def _message(self, sequence: int) -> RawStreamMsg | None:
        try:
            return await self._js.get_msg(self._stream, seq=sequence)
        except NotFoundError:
            return None

    async def ping(self) -> None:
        """The stream answers; raises while NATS is unreachable."""
        await self._js.stream_info(self._stream)

    async def close(self) -> None:
        if self._client.is_connected:
            await self._client.drain()
        else:
            await self._client.close()

    def _require_connection(self, action: str) -> None:
        if not self._client.is_connected:
            raise EventLogUnavailable(f"event log cannot {action}: NATS is not connected")
