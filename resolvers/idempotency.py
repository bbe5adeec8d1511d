"""The idempotency key of a mutation: the `idempotencyKey` argument or the `Idempotency-Key`
header of the client's request (both may be given when they agree)."""

from __future__ import annotations

import re
from collections.abc import Mapping

import strawberry

from resolvers.errors import PublicError
from resolvers.values import BAD_USER_INPUT

IDEMPOTENCY_HEADER = "idempotency-key"
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:~+=/-]{7,127}")
"""8 to 128 characters: letters, digits and . _ : ~ + = / - (a UUID, a ULID, a base64 token),
starting with a letter or digit; long enough that a client's keys do not collide by chance."""


def key_of_request(info: strawberry.Info, argument: str | None) -> str:
    """The caller's key, or the caller's error saying what is wrong with it."""
    context = info.context if isinstance(info.context, Mapping) else {}
    headers = getattr(context.get("request"), "headers", None)
    sent = set(headers.getlist(IDEMPOTENCY_HEADER)) if headers is not None else set()
    if len(sent) > 1:
        raise PublicError("send one Idempotency-Key header, not several", BAD_USER_INPUT)
    header = next(iter(sent), None)
    if argument is not None and header is not None and argument != header:
        raise PublicError(
            "the idempotencyKey argument and the Idempotency-Key header differ; send one",
            BAD_USER_INPUT,
        )
    key = argument if argument is not None else header
    if key is None:
        raise PublicError(
            "an idempotency key is required: the idempotencyKey argument or the "
            "Idempotency-Key header",
            BAD_USER_INPUT,
        )
    if IDEMPOTENCY_KEY.fullmatch(key) is None:
        raise PublicError(
            "the idempotency key must be 8 to 128 letters, digits or . _ : ~ + = / -, "
            "starting with a letter or digit",
            BAD_USER_INPUT,
        )
    return key
