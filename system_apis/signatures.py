"""Checking that a pushed payload comes from the backend that claims to have sent it.

All comparisons are constant-time (`hmac.compare_digest`) so a forger learns nothing from how
long a rejection takes. Header lookups ignore case, as HTTP does, whatever mapping the ingress
hands over (a plain dict or Starlette's `Headers`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping

from system_apis.errors import InvalidSignature


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value by case-insensitive name, or None."""
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    for key, candidate in headers.items():
        if key.lower() == wanted:
            return candidate
    return None


def hmac_sha256_hex(secret: str | bytes, message: bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def verify_hmac_sha256(secret: str | bytes, message: bytes, provided_hex: str) -> None:
    """Raise `InvalidSignature` unless `provided_hex` is the HMAC-SHA256 of `message`."""
    if not secret:
        raise InvalidSignature("no secret configured to verify the signature")
    expected = hmac_sha256_hex(secret, message)
    if not hmac.compare_digest(expected.encode(), provided_hex.strip().lower().encode()):
        raise InvalidSignature("signature does not match the payload")


def verify_basic_auth(headers: Mapping[str, str], user: str, password: str) -> None:
    """Raise `InvalidSignature` unless the Authorization header carries exactly user:password."""
    value = header(headers, "Authorization")
    if not value or not value[:6].lower() == "basic ":
        raise InvalidSignature("missing basic credentials")
    try:
        decoded = base64.b64decode(value[6:].strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSignature("unreadable basic credentials") from None
    expected = f"{user}:{password}".encode()
    if not password or not hmac.compare_digest(decoded, expected):
        raise InvalidSignature("wrong basic credentials")
