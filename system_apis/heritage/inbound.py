"""Heritage's X12 214 as it reaches us: pushed over HTTP with basic auth, or pulled in bulk."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo

from domain.shipments import Milestone
from system_apis.errors import MalformedPayload
from system_apis.fields import canonical
from system_apis.heritage.mapping import milestones_from_interchange
from system_apis.heritage.x12 import (
    Interchange,
    decode,
    parse_interchange,
    parse_interchanges,
    split_interchanges,
)
from system_apis.milestones import MilestoneBatch, RejectedRecord
from system_apis.signatures import verify_basic_auth

PUSH_USER = "heritage"


def parse_x12_214(data: bytes | str, *, home_zone: tzinfo | None = None) -> tuple[Milestone, ...]:
    """Every status in one or more 214 interchanges; all or nothing.

    Raises `MalformedPayload` (reason names segment, position and element) or its subclass
    `UnknownStatusCode`.
    """
    milestones: list[Milestone] = []
    for interchange in parse_interchanges(data):
        milestones.extend(_milestones(interchange, home_zone))
    return tuple(milestones)


def parse_heritage_push(
    body: bytes,
    headers: Mapping[str, str],
    secret: str,
    *,
    user: str = PUSH_USER,
    home_zone: tzinfo | None = None,
) -> tuple[Milestone, ...]:
    """One pushed interchange after checking its basic credentials (`InvalidSignature` if not)."""
    verify_heritage_push(headers, secret, user=user)
    return _milestones(parse_interchange(body), home_zone)


def verify_heritage_push(headers: Mapping[str, str], secret: str, *, user: str = PUSH_USER) -> None:
    """Raise `InvalidSignature` unless the push carries Heritage's basic credentials."""
    verify_basic_auth(headers, user, secret)


def parse_heritage_outbox(data: bytes | str, *, home_zone: tzinfo | None = None) -> MilestoneBatch:
    """A pulled outbox: interchanges one by one, bad ones set apart; the cursor is the last
    interchange control number read, good or bad, so the next pull starts after it."""
    milestones: list[Milestone] = []
    rejected: list[RejectedRecord] = []
    cursor: str | None = None
    for raw in split_interchanges(decode(data)):
        try:
            interchange = parse_interchange(raw)
        except MalformedPayload as error:
            rejected.append(RejectedRecord(raw=raw.encode(), error=error))
            cursor = _control_number_of(raw) or cursor
            continue
        cursor = interchange.control_number
        try:
            milestones.extend(_milestones(interchange, home_zone))
        except MalformedPayload as error:
            rejected.append(RejectedRecord(raw=raw.encode(), error=error))
    return MilestoneBatch(milestones=tuple(milestones), rejected=tuple(rejected), cursor=cursor)


def _milestones(interchange: Interchange, home_zone: tzinfo | None) -> tuple[Milestone, ...]:
    """An interchange's statuses; a value no store can hold rejects the interchange."""
    with canonical(f"interchange {interchange.control_number}"):
        return milestones_from_interchange(interchange, home_zone=home_zone)


def _control_number_of(raw: str) -> str | None:
    """ISA13 of an interchange that did not parse, when its header is still readable."""
    if len(raw) < 4 or not raw.startswith("ISA"):
        return None
    elements = raw.split(raw[3])
    if len(elements) > 13:
        candidate = elements[13].strip()
        if len(candidate) == 9 and candidate.isascii() and candidate.isdigit():
            return candidate
    return None
