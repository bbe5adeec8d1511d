"""The dashboard's routes, named once: the app registers them, authentication accepts the
operator's session cookie on these and no others."""

from __future__ import annotations

PAGE = "/ops"
SESSION = "/ops/session"
SESSION_END = "/ops/session/end"
SNAPSHOT = "/ops/snapshot"
STREAM = "/ops/stream"
REPLAY = "/ops/dead-letters/{dead_letter_id}/replay"
STATIC = "/ops/static/{name}"

SESSION_ROUTES = frozenset({PAGE, SESSION, SESSION_END, SNAPSHOT, STREAM, REPLAY, STATIC})
