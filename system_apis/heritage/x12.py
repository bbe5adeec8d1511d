"""A small, strict reader and writer of X12 interchanges (ISA ... IEA), any transaction set.

Delimiters are not fixed: each interchange declares them in its ISA header. The element
separator is the character right after "ISA"; ISA16 (one character after the 16th element
separator) is the component separator, and the character after ISA16 ends every segment.
Whitespace between segments (a newline after each `~`) is tolerated; when the segment
terminator is itself a newline, a missing one after the last segment is tolerated too.

The envelope is checked, not trusted: ISA13 = IEA02 and IEA01 counts the groups, GS06 = GE02
and GE01 counts the transaction sets, ST02 = SE02 and SE01 counts the set's segments from ST to
SE. Every problem raises `MalformedPayload` whose reason names the segment, its position
(1-based, counted from ISA) and the element, e.g. "segment 12 (SE): SE01 says 9 segments, the
set has 8". Nothing else escapes from parsing, whatever the input.

The version of the standard decides element layouts inside the sets (a 003070 date has six
digits, a 004010 one eight): `release` reads it from the group's GS08, else the interchange's
ISA12, as a number (3070, 4010, 5010, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from system_apis.errors import MalformedPayload

ISA_ELEMENTS = 16
_WHITESPACE = " \t\r\n\f\v"


@dataclass(frozen=True, slots=True)
class Delimiters:
    element: str = "*"
    component: str = ">"
    segment: str = "~"

    def __post_init__(self) -> None:
        chosen = (self.element, self.component, self.segment)
        if any(len(character) != 1 for character in chosen):
            raise MalformedPayload("ISA: delimiters must be single characters")
        if len(set(chosen)) != 3:
            raise MalformedPayload("ISA: element, component and segment delimiters must differ")
        if self.element.isalnum() or self.component.isalnum() or self.segment.isalnum():
            raise MalformedPayload("ISA: a delimiter cannot be a letter or digit")
        if self.element in _WHITESPACE or self.component in _WHITESPACE:
            raise MalformedPayload("ISA: element and component delimiters cannot be whitespace")


@dataclass(frozen=True, slots=True)
class Segment:
    """One segment; `element(1)` is the first data element (AT701), "" when absent."""

    tag: str
    elements: tuple[str, ...]
    position: int = field(default=0, compare=False)

    def element(self, number: int) -> str:
        return self.elements[number - 1] if 0 < number <= len(self.elements) else ""

    def where(self, number: int | None = None) -> str:
        """How an error names this segment (and one of its elements)."""
        name = f"{self.tag}{number:02d}" if number is not None else self.tag
        return f"segment {self.position} ({name})"


@dataclass(frozen=True, slots=True)
class TransactionSet:
    """ST ... SE; `segments` are the ones in between."""

    code: str
    control_number: str
    segments: tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class FunctionalGroup:
    """GS ... GE; `header` is the GS segment."""

    header: Segment
    transaction_sets: tuple[TransactionSet, ...]

    @property
    def functional_id(self) -> str:
        return self.header.element(1)

    @property
    def control_number(self) -> str:
        return self.header.element(6)


@dataclass(frozen=True, slots=True)
class Interchange:
    """ISA ... IEA; `header` is the ISA segment (ISA16 is `delimiters.component`)."""

    delimiters: Delimiters
    header: Segment
    groups: tuple[FunctionalGroup, ...]

    @property
    def control_number(self) -> str:
        return self.header.element(13).strip()

    @property
    def sender(self) -> str:
        return self.header.element(6).strip()

    @property
    def receiver(self) -> str:
        return self.header.element(8).strip()


def release(interchange: Interchange, group: FunctionalGroup) -> int:
    """The X12 release a group's sets are written in: 3070 for 003070, 5010 for 005010.

    GS08 names it for the group ("004010", or with an industry suffix "004010VICS"); ISA12 (the
    envelope's version, "00401") stands in when GS08 is empty.
    """
    version = group.header.element(8).strip()
    if version:
        digits = version[:6]
        if not (len(digits) == 6 and digits.isascii() and digits.isdigit()):
            raise MalformedPayload(
                f"{group.header.where(8)}: version {version[:20]!r} is not a release like 004010"
            )
        return int(digits)
    envelope = interchange.header.element(12).strip()
    if not (len(envelope) == 5 and envelope.isascii() and envelope.isdigit()):
        raise MalformedPayload(
            f"{interchange.header.where(12)}: version {envelope!r} is not a release like 00401"
        )
    return int(envelope) * 10


def decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedPayload(f"byte {error.start}: not valid UTF-8 text") from None


def parse_interchange(data: bytes | str) -> Interchange:
    """Exactly one interchange (surrounding whitespace allowed)."""
    interchanges = parse_interchanges(data)
    if len(interchanges) != 1:
        raise MalformedPayload(f"expected one interchange, found {len(interchanges)}")
    return interchanges[0]


def parse_interchanges(data: bytes | str) -> tuple[Interchange, ...]:
    """One or more interchanges one after another, each with its own delimiters."""
    text = decode(data)
    found: list[Interchange] = []
    offset = _skip_whitespace(text, 0)
    if offset == len(text):
        raise MalformedPayload("empty message: expected an ISA segment")
    while offset < len(text):
        interchange, offset = _read_interchange(text, offset, len(found) + 1)
        found.append(interchange)
        offset = _skip_whitespace(text, offset)
    return tuple(found)


def split_interchanges(data: bytes | str) -> tuple[str, ...]:
    """The raw text of each interchange, cut at each "ISA" that starts a line or the text.

    For pulling many messages at once: one malformed interchange can then be kept as a dead
    letter on its own while the others are accepted.
    """
    text = decode(data)
    starts = [
        index
        for index in range(len(text))
        if text.startswith("ISA", index) and (index == 0 or text[index - 1] in "\r\n")
    ]
    if not starts:
        return (text,) if text.strip() else ()
    pieces = [text[begin:end] for begin, end in zip(starts, [*starts[1:], len(text)], strict=True)]
    return tuple(piece for piece in pieces if piece.strip())


def render_interchange(interchange: Interchange) -> str:
    """The interchange as X12 text with its delimiters and computed trailer counts."""
    delimiters = interchange.delimiters
    out: list[str] = []

    def put(tag: str, *elements: str) -> None:
        out.append(delimiters.element.join((tag, *elements)) + delimiters.segment)

    isa = list(interchange.header.elements)
    isa[-1] = delimiters.component
    put("ISA", *isa)
    for group in interchange.groups:
        put("GS", *group.header.elements)
        for transaction in group.transaction_sets:
            put("ST", transaction.code, transaction.control_number)
            for segment in transaction.segments:
                put(segment.tag, *segment.elements)
            put("SE", str(len(transaction.segments) + 2), transaction.control_number)
        put("GE", str(len(group.transaction_sets)), group.control_number)
    put("IEA", str(len(interchange.groups)), interchange.control_number)
    return "".join(out)


def _skip_whitespace(text: str, offset: int) -> int:
    while offset < len(text) and text[offset] in _WHITESPACE:
        offset += 1
    return offset


def _read_delimiters(text: str, start: int, number: int) -> Delimiters:
    if not text.startswith("ISA", start):
        raise MalformedPayload(f"interchange {number}: expected ISA at character {start}")
    if start + 3 >= len(text):
        raise MalformedPayload(f"interchange {number}: ISA header truncated")
    element = text[start + 3]
    index = start + 3
    for _ in range(ISA_ELEMENTS - 1):
        index = text.find(element, index + 1)
        if index < 0:
            raise MalformedPayload(
                f"interchange {number}: ISA header truncated before ISA{ISA_ELEMENTS}"
            )
    if index + 2 >= len(text):
        raise MalformedPayload(f"interchange {number}: ISA header truncated at ISA16")
    return _delimiters(element, text[index + 1], text[index + 2])


@lru_cache(maxsize=32)
def _delimiters(element: str, component: str, segment: str) -> Delimiters:
    """Checked once per choice of delimiters: a batch's interchanges nearly always share one."""
    return Delimiters(element=element, component=component, segment=segment)


def _read_segments(
    text: str, start: int, delimiters: Delimiters, number: int
) -> tuple[list[Segment], int]:
    """Segments from ISA to IEA inclusive, and the offset right after IEA's terminator.

    One loop without a call per segment but the split: a pushed batch holds thousands."""
    segments: list[Segment] = []
    offset = start
    length = len(text)
    terminator = delimiters.segment
    separator = delimiters.element
    strips_carriage_return = terminator != "\r"
    while True:
        if segments and offset < length and text[offset] in _WHITESPACE:
            offset = _skip_whitespace(text, offset)
        if offset >= length:
            raise MalformedPayload(
                f"interchange {number}: ends after segment {len(segments)} without IEA"
            )
        end = text.find(terminator, offset)
        if end < 0:
            if not terminator.isspace():
                raise MalformedPayload(
                    f"segment {len(segments) + 1}: not terminated by {terminator!r}"
                )
            end = length
        raw = text[offset:end].rstrip("\r") if strips_carriage_return else text[offset:end]
        parts = raw.split(separator)
        tag = parts[0]
        if tag not in _KNOWN_TAGS and not _is_segment_identifier(tag):
            raise MalformedPayload(
                f"segment {len(segments) + 1}: {tag[:10]!r} is not a segment identifier"
            )
        segments.append(Segment(tag, tuple(parts[1:]), len(segments) + 1))
        offset = end + 1
        if tag == "IEA":
            return segments, min(offset, length)


_KNOWN_TAGS = frozenset(
    {"ISA", "GS", "ST", "B10", "L11", "N1", "N3", "N4", "G62", "LX", "AT7", "MS1", "MS2"}
    | {"AT8", "K1", "Q7", "SE", "GE", "IEA"}
)
"""Identifiers a 214 is made of, known good without looking at their characters."""


def _is_segment_identifier(tag: str) -> bool:
    return 2 <= len(tag) <= 3 and tag.isascii() and tag.isalnum() and tag == tag.upper()


def _read_interchange(text: str, start: int, number: int) -> tuple[Interchange, int]:
    delimiters = _read_delimiters(text, start, number)
    segments, end = _read_segments(text, start, delimiters, number)
    isa = segments[0]
    if len(isa.elements) != ISA_ELEMENTS:
        raise MalformedPayload(
            f"{isa.where()}: has {len(isa.elements)} elements, ISA needs {ISA_ELEMENTS}"
        )
    if isa.element(16) != delimiters.component:
        raise MalformedPayload(f"{isa.where(16)}: must be one character, the component separator")
    control = isa.element(13)
    if not (len(control) == 9 and control.isascii() and control.isdigit()):
        raise MalformedPayload(f"{isa.where(13)}: control number must be 9 digits, got {control!r}")
    groups, index = _read_groups(segments, 1)
    trailer = segments[index]
    if trailer.tag != "IEA" or index != len(segments) - 1:
        raise MalformedPayload(f"{trailer.where()}: expected GS or IEA")
    _expect_count(trailer, 1, len(groups), "functional groups")
    _expect_control(trailer, 2, control, isa, 13)
    return Interchange(delimiters=delimiters, header=isa, groups=tuple(groups)), end


def _read_groups(segments: list[Segment], index: int) -> tuple[list[FunctionalGroup], int]:
    groups: list[FunctionalGroup] = []
    while segments[index].tag == "GS":
        header = segments[index]
        if not header.element(6):
            raise MalformedPayload(f"{header.where(6)}: group control number missing")
        index += 1
        transactions: list[TransactionSet] = []
        while segments[index].tag == "ST":
            transaction, index = _read_transaction(segments, index)
            transactions.append(transaction)
        trailer = segments[index]
        if trailer.tag != "GE":
            raise MalformedPayload(f"{trailer.where()}: expected ST or GE")
        _expect_count(trailer, 1, len(transactions), "transaction sets")
        _expect_control(trailer, 2, header.element(6), header, 6)
        groups.append(FunctionalGroup(header=header, transaction_sets=tuple(transactions)))
        index += 1
    return groups, index


def _read_transaction(segments: list[Segment], index: int) -> tuple[TransactionSet, int]:
    header = segments[index]
    code, control = header.element(1), header.element(2)
    if not code:
        raise MalformedPayload(f"{header.where(1)}: transaction set code missing")
    if not control:
        raise MalformedPayload(f"{header.where(2)}: transaction set control number missing")
    body: list[Segment] = []
    index += 1
    while segments[index].tag != "SE":
        if segments[index].tag in {"ST", "GE", "GS", "IEA", "ISA"}:
            raise MalformedPayload(f"{segments[index].where()}: expected SE before it")
        body.append(segments[index])
        index += 1
    trailer = segments[index]
    _expect_count(trailer, 1, len(body) + 2, "segments")
    _expect_control(trailer, 2, control, header, 2)
    return TransactionSet(code=code, control_number=control, segments=tuple(body)), index + 1


def _expect_count(trailer: Segment, number: int, actual: int, what: str) -> None:
    stated = trailer.element(number)
    if not (stated.isascii() and stated.isdigit()) or int(stated) != actual:
        raise MalformedPayload(
            f"{trailer.where(number)}: says {stated!r} {what}, there are {actual}"
        )


def _expect_control(
    trailer: Segment, number: int, expected: str, header: Segment, header_number: int
) -> None:
    stated = trailer.element(number)
    if stated != expected:
        raise MalformedPayload(
            f"{trailer.where(number)}: control number {stated!r} does not match "
            f"{expected!r} in {header.where(header_number)}"
        )
