"""Page cursors the gateway issues: the backend's cursor, wrapped and signed for one tenant.

A backend's page token is not for callers to write: a crafted one can make a backend fail
(a 5xx that counts against its circuit breaker, for every tenant) or page through another
customer's records. So callers only ever see a token signed here (HMAC-SHA256 over the list,
the tenant and the backend's cursor) and hand it back unchanged; anything else, edited,
truncated, forged or issued to another tenant, is the caller's error and reaches no backend.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass, field

_VERSION = "v1"
MAX_CURSOR_LENGTH = 1024
"""Longer than any cursor issued here; a longer one is refused before it is decoded."""


class InvalidCursor(ValueError):
    """The cursor was not issued by this gateway for this list and tenant."""


@dataclass(frozen=True, slots=True)
class CursorSigner:
    """Issues and opens the cursors of every paged list; ``key`` is the HMAC secret."""

    key: bytes = field(repr=False)

    def issue(self, listing: str, tenant_id: str, backend_cursor: str | None) -> str | None:
        """The caller's cursor to the next page (None on the last page)."""
        if backend_cursor is None:
            return None
        wrapped = _encode(backend_cursor.encode())
        return f"{_VERSION}.{wrapped}.{_encode(self._mac(listing, tenant_id, wrapped))}"

    def open(self, listing: str, tenant_id: str, cursor: str | None) -> str | None:
        """The backend's cursor inside ``cursor``; raises ``InvalidCursor`` unless signed here."""
        if cursor is None:
            return None
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise InvalidCursor("too long")
        version, _, rest = cursor.partition(".")
        wrapped, _, signature = rest.partition(".")
        if version != _VERSION or not wrapped or not signature:
            raise InvalidCursor("not a cursor of this API")
        try:
            given = _decode(signature)
            backend_cursor = _decode(wrapped).decode()
        except (binascii.Error, ValueError):
            raise InvalidCursor("not a cursor of this API") from None
        if not hmac.compare_digest(given, self._mac(listing, tenant_id, wrapped)):
            raise InvalidCursor("signature does not match")
        return backend_cursor

    def _mac(self, listing: str, tenant_id: str, wrapped: str) -> bytes:
        message = "\x00".join((_VERSION, listing, tenant_id, wrapped)).encode()
        return hmac.new(self.key, message, hashlib.sha256).digest()


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(text: str) -> bytes:
    """Strict: a character outside the URL-safe alphabet is an error, not skipped."""
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
