"""HTTP caching of GET answers: `Cache-Control` from the cache policy, a strong `ETag` from
the body, and `304 Not Modified` when the client already holds that body.

Only GET answers of queries get these headers (a POST or a mutation is never cacheable in
HTTP): `max-age=N, public|private` when the answer may be reused, with `Age` when it came
from the cache, and `no-store` otherwise (an answer with errors, a stale one, fields with no
hint). `Vary` names the request headers the answer depends on. A malformed `If-None-Match`
is ignored, as if absent: the full answer is sent.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from federation.router.caching.hints import CachePolicy

_ENTITY_TAG = re.compile(r'\s*(?:W/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*')


def cache_control(policy: CachePolicy) -> str:
    if not policy.cacheable:
        return "no-store"
    return f"max-age={policy.max_age}, {'private' if policy.private else 'public'}"


def strong_etag(body: bytes) -> str:
    """A strong validator: the same bytes always give the same tag, any change another."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def matches(if_none_match: str | None, etag: str) -> bool:
    """Whether `If-None-Match` names ``etag`` (weak comparison, as RFC 9110 asks for it);
    False for an absent or malformed header."""
    if if_none_match is None:
        return False
    text = if_none_match.strip()
    if text == "*":
        return True
    if not text or len(text) > 8192:
        return False
    opaque = etag.strip('"')
    found = False
    for item in text.split(","):
        match = _ENTITY_TAG.fullmatch(item)
        if match is None:
            return False
        found = found or match.group(1) == opaque
    return found


def cache_headers(policy: CachePolicy, age_s: float, vary: Iterable[str]) -> dict[str, str]:
    headers = {"cache-control": cache_control(policy), "vary": ", ".join(("Accept", *vary))}
    if policy.cacheable and age_s >= 1:
        headers["age"] = str(int(age_s))
    return headers
