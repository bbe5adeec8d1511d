"""`[ops]`: the operations dashboard at `/ops` (see `gateway.ops`).

An operator signs in with an admin API key and gets a short-lived signed session cookie for
the dashboard's routes only; several gateway processes accept each other's sessions when they
share `session_signing_key`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

DEVELOPMENT_OPS_SESSION_KEY = "development-ops-session-signing-key-not-for-production"
"""Published with the code, so good for one machine only; production sets its own."""


class OpsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    session_signing_key: str = Field(DEVELOPMENT_OPS_SESSION_KEY, min_length=32)
    """HMAC key (HS256) of the session cookies; every process of a deployment shares it."""
    session_ttl_s: int = Field(900, ge=60, le=43_200)
    """A session ends this long after sign-in; the operator signs in again."""
    refresh_s: float = Field(5.0, ge=0.1, le=300)
    """How often the figures are read again and pushed to open dashboards (shared by all)."""
    max_streams: int = Field(16, ge=1, le=1000)
    """Dashboards one process keeps open at once; more are answered 503."""
    send_timeout_s: float = Field(10.0, gt=0, le=300)
    """A dashboard whose browser has not taken an update within this is disconnected."""
