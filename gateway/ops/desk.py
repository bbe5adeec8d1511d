"""The dashboard put together for a running gateway (called from the app's lifespan)."""

from __future__ import annotations

from federation.router.streaming import StreamShutdown
from gateway.figures import StoreFiguresCollector
from gateway.ops.feed import SnapshotFeed
from gateway.ops.history import ClientTraffic, EventFlow
from gateway.ops.pages import StaticFile
from gateway.ops.routes import OpsDesk
from gateway.ops.snapshot import SnapshotSources, build_snapshot
from gateway.ops_config import OpsConfig
from gateway.readiness import readiness_of
from gateway.runtime import GatewayRuntime


def open_desk(
    runtime: GatewayRuntime,
    settings: OpsConfig,
    *,
    figures: StoreFiguresCollector,
    flow: EventFlow,
    traffic: ClientTraffic,
    static: dict[str, StaticFile],
    shutdown: StreamShutdown,
) -> OpsDesk:
    sessions = runtime.authentication.sessions
    assert sessions is not None, "[ops] is enabled, so authentication made its sessions"
    feed: SnapshotFeed

    async def build() -> dict[str, object]:
        return await build_snapshot(
            SnapshotSources(
                runtime=runtime,
                readiness=lambda: readiness_of(runtime),
                figures=figures,
                flow=flow,
                traffic=traffic,
                settings=settings,
                streams=feed.streams,
            )
        )

    feed = SnapshotFeed(
        build,
        refresh_s=settings.refresh_s,
        max_streams=settings.max_streams,
        send_timeout_s=settings.send_timeout_s,
    )
    return OpsDesk(
        sessions=sessions,
        feed=feed,
        static=static,
        shutdown=shutdown,
        session_ttl_s=settings.session_ttl_s,
    )
