"""What an operator command acts on: the configured stores, backend clients and process
services, opened as the gateway opens them and closed when the command ends.

Nothing is started in the background: no poller, projection runner or workflow runner. A
command does its one piece of work beside whatever gateways run, through the same leases and
compare-and-set writes they use, so the two never undo each other's work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from gateway.config import GatewayConfig
from gateway.inbound import inbound_sources
from gateway.operator.console import CommandError
from gateway.runtime import backend_settings, configured_services, open_configured_stores
from gateway.webhooks import WebhookIngress
from process_apis.services import LogisticsServices
from stores.bundle import Stores
from stores.cache import open_cache
from stores.event_log import EventLogUnavailable
from system_apis.bundle import SystemClients

UNREACHABLE = (OSError, SQLAlchemyError, EventLogUnavailable, TimeoutError)
"""Failures that mean a store is out of reach, reported as one sentence, never a traceback."""


@dataclass(frozen=True, slots=True)
class Operator:
    config: GatewayConfig
    stores: Stores
    clients: SystemClients
    services: LogisticsServices
    ingress: WebhookIngress


def describe_stores(config: GatewayConfig) -> str:
    """Where the command acts, without credentials: for messages."""
    database = make_url(config.stores.database_url).render_as_string(hide_password=True)
    return f"database {database}, event log {config.stores.event_log}"


@asynccontextmanager
async def open_operator(config: GatewayConfig) -> AsyncIterator[Operator]:
    try:
        stores = await open_configured_stores(config)
    except UNREACHABLE as error:
        raise CommandError(
            f"cannot open the stores ({describe_stores(config)}): {type(error).__name__}"
        ) from error
    clients = SystemClients.from_settings(**backend_settings(config))
    cache = open_cache(config.stores.cache, namespace=config.stores.cache_namespace)
    try:
        services = configured_services(config, clients, stores, cache)
        try:
            ingress = WebhookIngress(
                inbound_sources(config),
                recorder=services.recorder,
                event_log=stores.event_log,
                dead_letters=stores.dead_letters,
                max_body_bytes=config.webhooks.max_body_bytes,
            )
            yield Operator(config, stores, clients, services, ingress)
        finally:
            await services.live.close()
    finally:
        await cache.close()
        await clients.aclose()
        await stores.close()
