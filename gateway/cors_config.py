"""`[cors]`: which browser portals on other origins may call the gateway, and how.

Empty by default: no origin is allowed, and no CORS header is ever sent. Each allowed origin
is written exactly as browsers send it (`https://portal.example.com`, a port when not the
default); `*` allows every origin, and is refused together with `allow_credentials`, since a
browser would then send cookies or HTTP authentication on behalf of any site's scripts.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Origin = Annotated[
    str,
    Field(pattern=r"^(\*|https?://[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?(:[0-9]{1,5})?)$"),
]
"""`*`, or `scheme://host[:port]` in lower case, without a path or a trailing slash."""

HeaderName = Annotated[str, Field(pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")]
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]


class CorsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    allow_origins: tuple[Origin, ...] = Field((), max_length=100)
    allow_methods: tuple[Method, ...] = ("GET", "POST")
    allow_headers: tuple[HeaderName, ...] = Field(
        (
            "content-type",
            "accept",
            "x-api-key",
            "authorization",
            "x-correlation-id",
            "idempotency-key",
            "last-event-id",
        ),
        max_length=50,
    )
    """Request headers a portal may send besides the CORS-safelisted ones."""
    expose_headers: tuple[HeaderName, ...] = Field(
        ("x-correlation-id", "retry-after", "ratelimit", "ratelimit-policy"), max_length=50
    )
    """Response headers a portal's scripts may read."""
    max_age: int = Field(600, ge=0, le=86_400)
    """Seconds a browser may keep a preflight's answer."""
    allow_credentials: bool = False

    @model_validator(mode="after")
    def _no_wildcard_with_credentials(self) -> CorsConfig:
        if "*" in self.allow_origins and self.allow_credentials:
            raise ValueError(
                "allow_origins = ['*'] cannot go with allow_credentials = true: list the "
                "portals' origins instead"
            )
        return self
