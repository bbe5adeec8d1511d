"""W3C Trace Context for the subgraph calls of a request: keep the caller's trace, else start one.

The gateway records no spans itself, so, as the specification asks of such a participant, it
passes a valid `traceparent` (and its `tracestate`) on unchanged; a missing or malformed one
is replaced by a new trace, so every subgraph request can be found by a trace id.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping

_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_TRACESTATE = re.compile(r"[\x20-\x7e]{1,512}")
_NO_TRACE = "0" * 32
_NO_PARENT = "0" * 16


def valid_traceparent(value: str | None) -> bool:
    if value is None:
        return False
    match = _TRACEPARENT.fullmatch(value)
    if match is None:
        return False
    version, trace_id, parent_id, _, rest = match.groups()
    if version == "ff" or trace_id == _NO_TRACE or parent_id == _NO_PARENT:
        return False
    return version != "00" or rest is None  # later versions may append fields


def new_traceparent() -> str:
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00"


def trace_headers(client_headers: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """`traceparent` (and `tracestate` with it) for the subgraph requests of one request."""
    traceparent = client_headers.get("traceparent")
    if not valid_traceparent(traceparent):
        return (("traceparent", new_traceparent()),)
    assert traceparent is not None
    tracestate = client_headers.get("tracestate")
    if tracestate is not None and _TRACESTATE.fullmatch(tracestate):
        return (("traceparent", traceparent), ("tracestate", tracestate))
    return (("traceparent", traceparent),)
