"""Inbound webhooks: verify the sender, parse, make durable, and only then acknowledge.

Every pushing backend has one route and one `InboundSource`: how to check the sender and how to
read the body. The outcome is always one of:

- 401, nothing stored: the sender is not who it claims (bad or missing signature or password);
- 400, dead letter kept: the payload is malformed; the answer names what and where;
- 422, dead letter kept: well-formed, but a status code or event type we do not map yet;
- 202: every event is in the event log before we answer; the log is the one thing written
  (the milestone history and the other read models are projections of it, and catch up),
  and the source counts as heard from (`process_apis.freshness`);
- 503: the log failed on the way; appends are idempotent (keyed by event id), so the sender's
  redelivery completes what is missing and gets its 202.

What a body may contain is decided once, by the canonical types (`domain.storable`) and the
JSON decoder the event log writes with (`system_apis.fields.json_body`): whatever a source reads
can be stored on every engine, and whatever it cannot is the sender's 400, never our 500.

Dead letters keep the raw body and its (non-secret) headers so an operator can inspect them and
replay them once the cause is fixed; a replay skips the sender check, which the original
delivery already passed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from opentelemetry.trace import Tracer
from starlette.requests import Request
from starlette.responses import Response

from domain.events import EventEnvelope
from domain.shipments import Milestone
from federation.router.bodies import read_bounded
from process_apis.tracking import MilestoneRecorder
from stores.dead_letters import DeadLetter, DeadLetterStore
from stores.event_log import EventLog, EventLogUnavailable
from system_apis.errors import InvalidSignature, MalformedPayload, UnknownStatusCode

logger = logging.getLogger(__name__)

SOURCE_LABEL_UNKNOWN = "unknown"
"""How a delivery to a source nobody configured is named in metrics and spans."""
SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
CONTENT_TYPE_MAX_LENGTH = 200
RETRY_AFTER_S = 5

Authenticate = Callable[[bytes, Mapping[str, str]], None]
"""Raises `InvalidSignature` unless the delivery comes from the backend it claims."""

Failed = Callable[[str, str], None]
"""Told (source, reason) of each delivery not accepted; the reason is the answer's `error`
(`unauthenticated`, `malformed`, `unknown_code`, `too_large`, `unavailable`, and
`unknown_source` under the source `unknown`)."""

Heard = Callable[[str], Awaitable[None]]
"""Told the source's name after each accepted delivery."""

Read = Callable[[bytes, Mapping[str, str]], Sequence[Milestone] | Sequence[EventEnvelope]]
"""Turns an authenticated body into canonical milestones or events (or raises MalformedPayload)."""


@dataclass(frozen=True, slots=True)
class InboundSource:
    name: str
    authenticate: Authenticate
    read: Read


@dataclass(frozen=True, slots=True)
class Accepted:
    events: int
    new: int


APPLIED = "applied"
DUPLICATE = "duplicate"
REJECTED = "rejected"
UNAVAILABLE = "unavailable"
UNKNOWN_SOURCE = "unknown_source"


@dataclass(frozen=True, slots=True)
class ReplayOutcome:
    """What replaying one dead letter came to: `applied` (the log took something new from
    it), `duplicate` (everything it holds was in the log already), `rejected` (its source
    still cannot read it), `unavailable` (a store failed; ask again) or `unknown_source`."""

    status: str
    events: int = 0
    new: int = 0
    message: str = ""


class WebhookIngress:
    """Accepts deliveries from the configured sources, durably, or says precisely why not."""

    def __init__(
        self,
        sources: Mapping[str, InboundSource],
        *,
        recorder: MilestoneRecorder,
        event_log: EventLog,
        dead_letters: DeadLetterStore,
        max_body_bytes: int,
        heard: Heard | None = None,
        on_failure: Failed | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self.sources = sources
        self.heard = heard
        self.on_failure = on_failure
        self.tracer = tracer
        self.recorder = recorder
        self.event_log = event_log
        self.dead_letters = dead_letters
        self.max_body_bytes = max_body_bytes

    async def receive(self, source_name: str, request: Request) -> Response:
        """One delivery to `/webhooks/{source_name}`, in a span of its own when traced;
        a refusal is told to `on_failure`."""
        known = source_name if source_name in self.sources else SOURCE_LABEL_UNKNOWN
        if self.tracer is None:
            response = await self._receive(source_name, request)
        else:
            with self.tracer.start_as_current_span(
                "webhook ingest", attributes={"webhook.source": known}
            ) as span:
                response = await self._receive(source_name, request)
                span.set_attribute("http.response.status_code", response.status_code)
                if isinstance(response, Problem):
                    span.set_attribute("webhook.refusal", response.error)
        if isinstance(response, Problem) and self.on_failure is not None:
            self.on_failure(known, response.error)
        return response

    async def _receive(self, source_name: str, request: Request) -> Response:
        source = self.sources.get(source_name)
        if source is None:
            return _problem(404, "unknown_source", f"no inbound source named {source_name}")
        body = await read_bounded(request, self.max_body_bytes)
        if body is None:
            return _problem(413, "too_large", f"body exceeds {self.max_body_bytes} bytes")
        headers = dict(request.headers)
        try:
            source.authenticate(body, headers)
        except InvalidSignature as error:
            logger.info("rejected %s delivery: %s", source.name, error)
            return _problem(401, "unauthenticated", str(error))
        return await self.accept(source, body, headers, request.state.correlation_id)

    async def accept(
        self, source: InboundSource, body: bytes, headers: Mapping[str, str], correlation_id: str
    ) -> Response:
        """Read and store an authenticated delivery; a failure to read becomes a dead letter."""
        try:
            items = source.read(body, headers)
        except UnknownStatusCode as error:
            letter = await self._dead_letter(source, body, headers, correlation_id, error)
            return _problem(422, "unknown_code", error.reason, letter)
        except MalformedPayload as error:
            letter = await self._dead_letter(source, body, headers, correlation_id, error)
            return _problem(400, "malformed", error.reason, letter)
        outcome = await self._store(source, items, correlation_id)
        if outcome is None:
            return _unavailable()
        await self._heard(source.name)
        return JsonAnswer({"accepted": outcome.events, "new": outcome.new}, status_code=202)

    async def _heard(self, source_name: str) -> None:
        """The delivery is durable already: failing to note the time only makes answers look
        older, never refuses what was accepted."""
        if self.heard is None:
            return
        try:
            await self.heard(source_name)
        except Exception as error:
            logger.warning(
                "noting that %s was heard from failed: %s: %s",
                source_name,
                type(error).__name__,
                error,
            )

    async def replay(self, letter: DeadLetter) -> Response:
        """Run a dead letter through its source again and record the outcome on it."""
        outcome = await self.replay_letter(letter)
        if outcome.status == UNKNOWN_SOURCE:
            return _problem(409, "unknown_source", outcome.message)
        if outcome.status == REJECTED:
            return _problem(422, "still_rejected", outcome.message)
        if outcome.status == UNAVAILABLE:
            return _unavailable()
        return JsonAnswer({"accepted": outcome.events, "new": outcome.new}, status_code=200)

    async def replay_letter(self, letter: DeadLetter) -> ReplayOutcome:
        """The one replay path, for the admin route and the operator CLI alike: read the kept
        body with its source's reader, store what it holds like a fresh delivery (keyed by
        event id, so events already in the log count as duplicates), and note the outcome on
        the letter. A store failure notes nothing: the replay can simply be asked again."""
        source = self.sources.get(letter.source)
        if source is None:
            return ReplayOutcome(UNKNOWN_SOURCE, message=f"no inbound source named {letter.source}")
        try:
            items = source.read(letter.body, letter.headers)
        except MalformedPayload as error:
            await self.dead_letters.mark_replayed(
                letter.dead_letter_id, f"rejected: {error.reason}"
            )
            return ReplayOutcome(REJECTED, message=error.reason)
        outcome = await self._store(source, items, letter.correlation_id)
        if outcome is None:
            return ReplayOutcome(UNAVAILABLE, message="the event log could not store it")
        await self.dead_letters.mark_replayed(letter.dead_letter_id, f"accepted {outcome.events}")
        status = APPLIED if outcome.new or not outcome.events else DUPLICATE
        return ReplayOutcome(status, events=outcome.events, new=outcome.new)

    async def _store(
        self,
        source: InboundSource,
        items: Sequence[Milestone] | Sequence[EventEnvelope],
        correlation_id: str,
    ) -> Accepted | None:
        """The items stored, or None when a store failed on the way (every step is keyed by
        event id, so asking again completes what is missing)."""
        try:
            return await self._store_all(items, correlation_id)
        except EventLogUnavailable as error:
            logger.warning(
                "storing a %s delivery failed (%s): %s", source.name, correlation_id, error
            )
        except Exception:
            logger.exception("storing a %s delivery failed (%s)", source.name, correlation_id)
        return None

    async def _store_all(
        self, items: Sequence[Milestone] | Sequence[EventEnvelope], correlation_id: str
    ) -> Accepted:
        milestones = [item for item in items if isinstance(item, Milestone)]
        envelopes = [item for item in items if isinstance(item, EventEnvelope)]
        new = 0
        if milestones:
            recorded = await self.recorder.record(milestones, correlation_id=correlation_id)
            new += len(recorded.recorded)
        if envelopes:
            appended = await self.event_log.append_all(envelopes)
            new += sum(0 if result.duplicate else 1 for result in appended)
        return Accepted(events=len(items), new=new)

    async def _dead_letter(
        self,
        source: InboundSource,
        body: bytes,
        headers: Mapping[str, str],
        correlation_id: str,
        error: MalformedPayload,
    ) -> DeadLetter:
        letter = await self.dead_letters.put(
            source=source.name,
            reason=error.reason,
            content_type=headers.get("content-type", "")[:CONTENT_TYPE_MAX_LENGTH],
            headers={k: v for k, v in headers.items() if k.lower() not in SECRET_HEADERS},
            body=body,
            correlation_id=correlation_id,
        )
        logger.warning(
            "dead letter %s from %s: %s", letter.dead_letter_id, source.name, error.reason
        )
        return letter


class JsonAnswer(Response):
    """A JSON answer written by orjson: Starlette's `JSONResponse` sets up a stdlib encoder
    for every answer, which costs a small delivery more than reading and storing it."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def _unavailable() -> JsonAnswer:
    return _problem(
        503,
        "unavailable",
        "the delivery could not be stored completely; send it again",
        retry_after_s=RETRY_AFTER_S,
    )


class Problem(JsonAnswer):
    """A refusal, which keeps its `error` for the metrics and the span."""

    def __init__(self, content: dict[str, str], status: int, headers: dict[str, str] | None):
        super().__init__(content, status_code=status, headers=headers)
        self.error = content["error"]


def _problem(
    status: int,
    error: str,
    message: str,
    letter: DeadLetter | None = None,
    *,
    retry_after_s: int | None = None,
) -> Problem:
    content: dict[str, str] = {"error": error, "message": message}
    if letter is not None:
        content["dead_letter_id"] = letter.dead_letter_id
    headers = {"Retry-After": str(retry_after_s)} if retry_after_s is not None else None
    return Problem(content, status, headers)
