"""`[jwt]`: bearer tokens from an identity provider (portals, apps), checked against its JWKS."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from policies.principal import DEFAULT_PLAN

Algorithm = Literal["RS256", "ES256", "EdDSA"]


class JwtConfig(BaseModel):
    """Off until `jwks_url` is set; then `issuer` and `audience` are required, and a token
    must carry that `iss`, that `aud` among its audiences, and an `exp` (checked, with `nbf`,
    within `leeway_s`). The claims named here give the principal: client id, tenant (a token
    without them is refused), scopes (`scope` space-separated or `scp` list, the first present),
    plan (`default_plan` when absent; an unknown one is refused) and warehouses."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    jwks_url: str | None = None
    issuer: str | None = Field(None, min_length=1)
    audience: str | None = Field(None, min_length=1)
    algorithms: tuple[Algorithm, ...] = Field(("RS256", "ES256", "EdDSA"), min_length=1)
    leeway_s: int = Field(30, ge=0, le=300)
    client_id_claim: str = Field("sub", min_length=1, max_length=100)
    tenant_claim: str = Field("tenant", min_length=1, max_length=100)
    scope_claims: tuple[str, ...] = Field(("scope", "scp"), min_length=1, max_length=5)
    plan_claim: str = Field("plan", min_length=1, max_length=100)
    warehouses_claim: str = Field("warehouses", min_length=1, max_length=100)
    default_plan: str = DEFAULT_PLAN
    jwks_max_age_s: float = Field(600.0, ge=10, le=86_400)
    """The key set is fetched again when older than this (withdrawn keys stop verifying)."""
    jwks_refetch_interval_s: float = Field(30.0, ge=1, le=3600)
    """At most one fetch per this interval for tokens naming an unknown key (`kid`)."""
    jwks_timeout_s: float = Field(5.0, gt=0, le=60)

    @model_validator(mode="after")
    def _complete(self) -> JwtConfig:
        if self.jwks_url is None:
            return self
        if not self.jwks_url.startswith(("https://", "http://")):
            raise ValueError("jwks_url must be an http(s):// URL")
        missing = [name for name in ("issuer", "audience") if getattr(self, name) is None]
        if missing:
            raise ValueError(f"jwks_url needs {' and '.join(missing)} too")
        return self
