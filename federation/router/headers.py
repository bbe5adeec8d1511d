"""What a subgraph request carries besides the query: header rules and per-request headers.

A client's headers are its own: its credentials in particular are for this router, not for
every service behind it, some of which another party may run. So a subgraph request starts
with no client header at all; per-subgraph ``HeaderRules`` (as Apollo Router's header
propagation: propagate a named header, optionally renamed or with a default, insert a fixed
value, remove) say what goes out. The embedding app adds, per client request,
``Forwarded`` headers: who is asking, in a form the subgraph can verify, and the trace
headers that tie the subgraph's logs to the client's request.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

HeaderPairs = tuple[tuple[str, str], ...]

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9a-z-]+")

RESERVED_HEADERS = frozenset(
    {
        "accept",
        "accept-encoding",
        "connection",
        "content-encoding",
        "content-length",
        "content-type",
        "host",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
"""Headers that describe the connection or the body the router sends; rules cannot set them."""


def header_name(name: str) -> str:
    """``name`` lower-cased; raises ``ValueError`` unless a header a rule may send."""
    lowered = name.strip().lower()
    if not _TOKEN.fullmatch(lowered):
        raise ValueError(f"{name!r} is not a valid header name")
    if lowered in RESERVED_HEADERS:
        raise ValueError(f"{lowered!r} is set by the router itself and cannot be forwarded")
    return lowered


def safe_header_value(value: str) -> bool:
    """False for a value that could split the request head or is not latin-1."""
    if "\r" in value or "\n" in value or "\x00" in value:
        return False
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Propagate:
    """Send the client's ``name`` header, as ``rename`` if given, or ``default`` when absent."""

    name: str
    rename: str | None = None
    default: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", header_name(self.name))
        if self.rename is not None:
            object.__setattr__(self, "rename", header_name(self.rename))
        if self.default is not None and not safe_header_value(self.default):
            raise ValueError(f"the default of {self.name!r} is not a valid header value")


@dataclass(frozen=True, slots=True)
class Insert:
    """Send ``name: value`` whatever the client sent."""

    name: str
    value: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", header_name(self.name))
        if not safe_header_value(self.value):
            raise ValueError(f"the value of {self.name!r} is not a valid header value")


@dataclass(frozen=True, slots=True)
class Remove:
    """Do not send ``name``, whichever earlier rule added it."""

    name: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", header_name(self.name))


HeaderRule = Propagate | Insert | Remove


@dataclass(frozen=True, slots=True)
class HeaderRules:
    """The header rules of one subgraph, applied in order; none means no client header."""

    rules: tuple[HeaderRule, ...] = ()

    def apply(self, client_headers: Mapping[str, str]) -> HeaderPairs:
        """The headers to send, from the client's (a dict of lower-case names, or a
        case-insensitive mapping such as Starlette's ``Headers``)."""
        if not self.rules:
            return ()
        out: dict[str, str] = {}
        for rule in self.rules:
            if isinstance(rule, Propagate):
                value = client_headers.get(rule.name)
                if value is None or not safe_header_value(value):
                    value = rule.default
                if value is not None:
                    out[rule.rename or rule.name] = value
            elif isinstance(rule, Insert):
                out[rule.name] = rule.value
            else:
                out.pop(rule.name, None)
        return tuple(out.items())


NO_CLIENT_HEADERS = HeaderRules()


@dataclass(frozen=True, slots=True)
class Forwarded:
    """Headers the embedding app adds to every subgraph request of one client request.

    ``identity(subgraph_name)`` says who is asking (a signed token, say); it is part of the
    key under which concurrent identical fetches share one call, so callers with different
    identities never share an answer. ``trace`` (correlation id, ``traceparent``) identifies
    the client request; it does not decide sharing (a shared call carries the first
    request's) and is written with every subgraph failure the router logs.
    """

    identity: Callable[[str], HeaderPairs] | None = None
    trace: HeaderPairs = ()

    def identity_for(self, subgraph: str) -> HeaderPairs:
        return self.identity(subgraph) if self.identity is not None else ()


NOTHING_FORWARDED = Forwarded()
