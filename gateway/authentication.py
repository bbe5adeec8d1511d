"""Who may call, built from the configuration: the configured API keys, the keys and OAuth
clients issued at run time, the gateway's own token endpoint and the identity provider it
trusts. One `Authentication` per process, made when the stores are open, closed with them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

import httpx

from gateway.config import GatewayConfig
from gateway.ops.paths import SESSION_ROUTES
from policies.api_keys import StoredCredentials
from policies.authn import ApiKeyRegistry, Authenticator, RegisteredClient
from policies.bearer_tokens import BearerTokens, ClaimMapping, TrustedIssuer
from policies.jwks import RemoteKeySet
from policies.oauth_clients import ConfiguredOAuthClient, OAuthClients
from policies.oauth_server import OAuthEndpoints
from policies.oauth_tokens import RevokedTokens, TokenSigner, own_issuer
from policies.ops_sessions import OpsSessions
from stores.bundle import Stores

_logger = logging.getLogger("gateway.authentication")


def api_key_registry(config: GatewayConfig) -> ApiKeyRegistry:
    return ApiKeyRegistry(
        RegisteredClient(
            client_id=name,
            tenant_id=client.tenant,
            api_key_sha256=client.api_key_sha256,
            scopes=frozenset(client.scopes),
            warehouses=frozenset(client.warehouses),
            plan=client.plan,
            contract=client.contract,
        )
        for name, client in config.clients.items()
    )


@dataclass(frozen=True, slots=True)
class Authentication:
    authenticator: Authenticator
    oauth: OAuthEndpoints
    credentials: StoredCredentials
    revoked: RevokedTokens
    key_set: RemoteKeySet | None
    lifetimes: tuple[timedelta, timedelta]
    """Issued credentials' default and longest lifetime."""
    plans: frozenset[str]
    http: httpx.AsyncClient | None
    sessions: OpsSessions | None = None
    """The ops dashboard's browser sessions (None when `[ops] enabled = false`)."""

    async def aclose(self) -> None:
        self.oauth.close()
        if self.http is not None:
            await self.http.aclose()


async def start_authentication(config: GatewayConfig, stores: Stores) -> Authentication:
    """Everything above; the identity provider's keys are fetched now, so the first tokens
    need not wait (a provider that does not answer yet is asked again on the first token)."""
    cache_s = config.api_keys.cache_s
    credentials = StoredCredentials(stores.credentials, cache_s=cache_s)
    revoked = RevokedTokens(stores.revoked_tokens, cache_s=cache_s)
    signer = TokenSigner(
        config.oauth.signing_key,
        issuer=config.oauth_issuer(),
        audience=config.oauth.audience,
        lifetime_s=config.oauth.token_lifetime_s,
    )
    clients = OAuthClients(
        {
            name: ConfiguredOAuthClient(
                client_id=name,
                tenant=client.tenant,
                secret_hash=client.secret_hash,
                scopes=client.scopes,
                plan=client.plan,
            )
            for name, client in config.oauth_clients.items()
        },
        credentials,
    )
    issuers = [own_issuer(signer, clients, revoked, leeway_s=config.oauth.leeway_s)]
    http = key_set = None
    jwt = config.jwt
    if jwt.jwks_url is not None and jwt.issuer is not None and jwt.audience is not None:
        http = httpx.AsyncClient(follow_redirects=False)
        key_set = RemoteKeySet(
            jwt.jwks_url,
            http,
            max_age_s=jwt.jwks_max_age_s,
            refetch_interval_s=jwt.jwks_refetch_interval_s,
            timeout_s=jwt.jwks_timeout_s,
        )
        if not await key_set.refresh():
            _logger.warning("the JWKS at %s could not be read at start", jwt.jwks_url)
        issuers.append(
            TrustedIssuer(
                issuer=jwt.issuer,
                audience=jwt.audience,
                keys=key_set,
                algorithms=frozenset(jwt.algorithms),
                claims=ClaimMapping(
                    client_id=jwt.client_id_claim,
                    tenant=jwt.tenant_claim,
                    scopes=jwt.scope_claims,
                    plan=jwt.plan_claim,
                    warehouses=jwt.warehouses_claim,
                ),
                leeway_s=jwt.leeway_s,
                default_plan=jwt.default_plan,
            )
        )
    tokens = BearerTokens(issuers, plans=config.plans)
    scopes = frozenset().union(
        *(client.scopes for client in config.oauth_clients.values()),
        *(client.scopes for client in config.clients.values()),
    )
    registry = api_key_registry(config)
    sessions = None
    if config.ops.enabled:
        sessions = OpsSessions(
            registry,
            credentials,
            config.ops.session_signing_key,
            ttl_s=config.ops.session_ttl_s,
            routes=SESSION_ROUTES,
        )
    return Authentication(
        authenticator=Authenticator(registry, stored=credentials, tokens=tokens, sessions=sessions),
        oauth=OAuthEndpoints(signer, clients, tokens, revoked, scopes_supported=scopes),
        credentials=credentials,
        revoked=revoked,
        key_set=key_set,
        lifetimes=(
            timedelta(days=config.api_keys.default_lifetime_days),
            timedelta(days=config.api_keys.max_lifetime_days),
        ),
        plans=frozenset(config.plans),
        http=http,
        sessions=sessions,
    )
