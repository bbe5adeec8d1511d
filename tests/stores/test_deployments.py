"""Two deployments sharing one NATS and one Redis, told apart by their configuration only."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import nats
import pytest

from gateway.config import GatewayConfig
from gateway.runtime import GatewayRuntime, start_runtime
from stores import open_stores
from stores.jetstream import EventLogMisconfigured, JetStreamEventLog
from tests.conftest import fresh_postgres_database
from tests.stores.test_event_log import make_event


def deployment_config(tmp_path: Path, name: str, nats_url: str, redis_url: str) -> GatewayConfig:
    return GatewayConfig.model_validate(
        {
            "stores": {
                "database_url": f"sqlite+aiosqlite:///{tmp_path / name}.sqlite3",
                "event_log": nats_url,
                "cache": redis_url,
                "event_stream": f"DEPLOY_{name.upper()}",
                "event_subject_prefix": f"{name}.events",
                "cache_namespace": f"{name}-gateway",
            },
            "polling": {"enabled": False},
        }
    )


async def delete_streams(nats_url: str, *names: str) -> None:
    client = await nats.connect(nats_url)
    try:
        for name in names:
            with suppress(nats.js.errors.NotFoundError):
                await client.jetstream().delete_stream(name)
    finally:
        await client.close()


@asynccontextmanager
async def running(config: GatewayConfig) -> AsyncIterator[GatewayRuntime]:
    runtime = await start_runtime(config)
    try:
        yield runtime
    finally:
        await runtime.aclose()


async def test_two_deployments_on_one_nats_and_one_redis_do_not_see_each_others_state(
    tmp_path: Path, nats_url: str, redis_url: str
) -> None:
    suffix = uuid.uuid4().hex[:8]
    east_config = deployment_config(tmp_path, f"east{suffix}", nats_url, redis_url)
    west_config = deployment_config(tmp_path, f"west{suffix}", nats_url, redis_url)
    try:
        async with running(east_config) as east, running(west_config) as west:
            east_ids = {f"east-{uuid.uuid4().hex}" for _ in range(3)}
            for event_id in east_ids:
                await east.stores.event_log.append(make_event(event_id))
            west_id = f"west-{uuid.uuid4().hex}"
            await west.stores.event_log.append(make_event(west_id))

            east_seen = {e.envelope.event_id for e in await east.stores.event_log.read(limit=50)}
            west_seen = {e.envelope.event_id for e in await west.stores.event_log.read(limit=50)}
            assert east_seen == east_ids, "east reads its own events, and only those"
            assert west_seen == {west_id}, "west reads its own event, and only that"

            await east.cache.set("order-owner:SO-1", "C-1001")
            assert await west.cache.get("order-owner:SO-1") is None, "caches are apart"
            assert await east.cache.get("order-owner:SO-1") == "C-1001"
            await east.cache.clear()
    finally:
        await delete_streams(
            nats_url, east_config.stores.event_stream, west_config.stores.event_stream
        )


async def test_a_stream_or_prefix_another_deployment_holds_is_refused_naming_it(
    tmp_path: Path, nats_url: str
) -> None:
    suffix = uuid.uuid4().hex[:8].upper()
    database = f"sqlite+aiosqlite:///{tmp_path / 'clash.sqlite3'}"
    first = await open_stores(
        database, nats_url, stream=f"CLASH_{suffix}", subject_prefix=f"clash{suffix}.events"
    )
    try:
        with pytest.raises(EventLogMisconfigured, match=f"stream CLASH_{suffix} exists"):
            await open_stores(
                database, nats_url, stream=f"CLASH_{suffix}", subject_prefix="other.events"
            )
        with pytest.raises(EventLogMisconfigured, match="cannot create stream"):
            await open_stores(
                database,
                nats_url,
                stream=f"OVERLAP_{suffix}",
                subject_prefix=f"clash{suffix}.events.eu",
            )
    finally:
        await first.close()
        await delete_streams(nats_url, f"CLASH_{suffix}", f"OVERLAP_{suffix}")


async def test_a_cluster_is_named_by_several_urls_and_one_answering_is_enough(nats_url):
    suffix = uuid.uuid4().hex[:8]
    log = await JetStreamEventLog.connect(
        f"nats://127.0.0.1:1, {nats_url}",
        stream=f"CLUSTER_{suffix}",
        subject_prefix=f"cluster{suffix}.events",
    )
    try:
        await log.ping()
    finally:
        await log.close()
        await delete_streams(nats_url, f"CLUSTER_{suffix}")


async def test_more_replicas_than_the_cluster_has_nodes_are_refused_naming_the_stream(nats_url):
    suffix = uuid.uuid4().hex[:8]
    with pytest.raises(EventLogMisconfigured, match=f"cannot create stream REPLICAS_{suffix}"):
        await JetStreamEventLog.connect(
            nats_url,
            stream=f"REPLICAS_{suffix}",
            subject_prefix=f"replicas{suffix}.events",
            replicas=3,
        )


async def test_replicas_starting_together_on_a_fresh_database_all_open_their_stores():
    with fresh_postgres_database() as database:
        opened = await asyncio.gather(
            *(open_stores(database) for _ in range(4)), return_exceptions=True
        )
        failures = [result for result in opened if isinstance(result, BaseException)]
        for result in opened:
            if not isinstance(result, BaseException):
                await result.close()
    assert not failures, f"a replica could not create the tables beside the others: {failures}"
