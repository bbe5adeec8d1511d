"""The product's own subcommands: `run` (the gateway), `demo` (with the reference backends) and
`compose` (build the supergraph and the public schema from the subgraphs)."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from gateway.config import DEMO_CLIENTS, ConfigError, GatewayConfig, load_config
from gateway.oauth_config import DEMO_OAUTH_CLIENTS
from gateway.workers import (
    MAX_WORKERS,
    WORKER_COUNT_VARIABLE,
    WORKER_START_S,
    export_config_path,
    refusal,
)
from policies.authn import digest_api_key

SANDBOX_BACKENDS = ("erp", "wms", "tms", "swiftparcel", "roadline", "heritage")
PUSHING_BACKENDS = {
    "wms": "wms_secret",
    "swiftparcel": "swiftparcel_secret",
    "heritage": "heritage_password",
}
SANDBOX_START_TIMEOUT_S = 60.0


def add_run_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="run the gateway from its configuration")
    parser.add_argument("--config", type=Path, help="configuration file (default gateway.toml)")
    parser.add_argument("--log-level", default="info")
    add_workers_argument(parser)
    parser.set_defaults(handler=_run)


def add_demo_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the reference backends and the gateway on embedded defaults"
    )
    parser.add_argument("--config", type=Path, help="configuration file (default: embedded)")
    parser.add_argument("--state-dir", type=Path, default=Path("var/sandbox"))
    parser.add_argument(
        "--simulate", type=float, default=20.0, help="seconds between simulated backend events"
    )
    parser.add_argument("--log-level", default="warning")
    add_workers_argument(parser)
    parser.set_defaults(handler=_demo)


def add_compose_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compose", help="compose the supergraph and the public API schema from subgraph SDLs"
    )
    parser.add_argument("--config", required=True, type=Path, help="subgraphs TOML file")
    parser.add_argument("--out", required=True, type=Path, help="supergraph file to write")
    parser.add_argument("--api-schema", type=Path, help="public API schema file to write")
    parser.set_defaults(handler=_compose)


def add_workers_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="worker processes sharing the listening socket (more than one needs the shared "
        "engines: PostgreSQL, Redis, NATS JetStream)",
    )


def workers_problem(workers: int) -> str | None:
    if not 1 <= workers <= MAX_WORKERS:
        return f"--workers: a whole number from 1 to {MAX_WORKERS}"
    return None


def _compose(arguments: argparse.Namespace) -> int:
    from federation.composition import compose_command

    return compose_command(arguments.config, arguments.out, arguments.api_schema)


def _load(path: Path | None) -> GatewayConfig | None:
    try:
        return load_config(path)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return None


def _serve(config: GatewayConfig, log_level: str, workers: int = 1) -> None:
    import uvicorn

    from federation.router.streaming import ShutdownServer, StreamShutdown
    from gateway.app import create_app
    from gateway.logs import log_config

    served = {  # how either way of serving listens, logs and takes WebSocket messages
        "host": config.server.host,
        "port": config.server.port,
        "log_config": log_config(log_level),
        "log_level": log_level,
        "access_log": False,
        "ws_max_size": config.subscriptions.max_message_bytes,
        "ws_per_message_deflate": config.subscriptions.websocket_compression,
    }
    if workers > 1:
        os.environ[WORKER_COUNT_VARIABLE] = str(workers)  # each worker's metrics port
        uvicorn.run(
            "gateway.workers:gateway_worker_app",
            factory=True,
            timeout_worker_healthcheck=WORKER_START_S,
            workers=workers,
            timeout_graceful_shutdown=int(config.subscriptions.shutdown_grace_s) + 1,
            **served,
        )
        return
    shutdown = StreamShutdown()
    server_config = uvicorn.Config(
        create_app(config, shutdown=shutdown, settle_heap=True), **served
    )
    ShutdownServer(server_config, shutdown, config.subscriptions.shutdown_grace_s).run()


def _workers_refused(config: GatewayConfig, workers: int) -> bool:
    problem = workers_problem(workers) or refusal(config, workers)
    if problem is not None:
        print(problem, file=sys.stderr)
        return True
    return False


def _run(arguments: argparse.Namespace) -> int:
    config = _load(arguments.config)
    if config is None:
        return 2
    if _workers_refused(config, arguments.workers):
        return 2
    export_config_path(arguments.config)
    _serve(config, arguments.log_level, arguments.workers)
    return 0


def _demo(arguments: argparse.Namespace) -> int:
    config = _load(arguments.config)
    if config is None:
        return 2
    if _workers_refused(config, arguments.workers):
        return 2
    export_config_path(arguments.config)
    busy = _ports_in_use(config)
    if busy:
        print(f"cannot start the demo, ports already in use: {', '.join(busy)}", file=sys.stderr)
        return 2
    sandbox = _start_sandbox(config, arguments.state_dir, arguments.simulate)
    try:
        _wait_for_backends(config, sandbox)
        _point_webhooks_at_gateway(config)
        base = f"http://{config.server.host}:{config.server.port}"
        if config.serves_graphiql():
            print(f"\nGraphiQL: {base}/graphiql   (GraphQL endpoint: {base}/graphql)")
        else:
            print(f"\nGraphQL endpoint: {base}/graphql   (GraphiQL is off: server.graphiql)")
        if config.ops.enabled:
            print(f"Ops dashboard: {base}/ops   (sign in with a key that has the admin scope)")
        print(_key_table(config), flush=True)
        print(_oauth_table(config), flush=True)
        print("Ctrl-C stops the gateway and the backends.\n", flush=True)
        _serve(config, arguments.log_level, arguments.workers)
    finally:
        _stop(sandbox)
    return 0


def _ports_in_use(config: GatewayConfig) -> list[str]:
    """The demo's addresses that something else already listens on."""
    urls = [getattr(config.backends, name).url for name in SANDBOX_BACKENDS]
    urls.append(f"http://{config.server.host}:{config.server.port}")
    busy = []
    for url in urls:
        parsed = httpx.URL(url)
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex((parsed.host, parsed.port or 80)) == 0:
                busy.append(f"{parsed.host}:{parsed.port}")
    return busy


def _key_table(config: GatewayConfig) -> str:
    """The demo clients the configuration still holds, each with its key and what it may do."""
    lines = ["Send one of these API keys as the X-API-Key header:"]
    for name, demo in DEMO_CLIENTS.items():
        client = config.clients.get(name)
        if client is None or client.api_key_sha256 != digest_api_key(demo.api_key):
            continue
        lines.append(
            f"  {demo.api_key:<20} {name} (tenant {client.tenant}, plan {client.plan}): {demo.may}"
        )
    if len(lines) == 1:
        lines.append("  (the configuration holds none of the demo clients: use your own keys)")
    elif config.throttling.enabled:
        limits = "; ".join(
            f"{name} {', '.join(plan.rate_limits) or 'unlimited'}"
            for name, plan in config.plans.items()
        )
        lines.append(f"Rate limits per client (past them: 429 RATE_LIMITED): {limits}")
    demo_clients_shown = not lines[-1].startswith("  (the configuration holds none")
    demand = config.demand_control
    if demo_clients_shown and demand.enabled and demand.mode == "enforce":
        budgets = "; ".join(
            f"{name} {plan.max_cost if plan.max_cost is not None else 'unlimited'}"
            for name, plan in config.plans.items()
        )
        lines.append(
            "Estimated cost of one operation (past it: 400 COST_ESTIMATED_TOO_EXPENSIVE; "
            f"GET /admin/costs lists them): {budgets}"
        )
    return "\n".join(lines)


def _oauth_table(config: GatewayConfig) -> str:
    """The demo OAuth clients the configuration still holds, and how to get a token."""
    token_url = f"{config.oauth_issuer()}/oauth/token"
    lines = ["Partners may use OAuth 2.0 client credentials instead of a key:"]
    for client_id, demo in DEMO_OAUTH_CLIENTS.items():
        client = config.oauth_clients.get(client_id)
        if client is None or client.secret_hash != demo.secret_hash:
            continue
        scopes = " ".join(sorted(client.scopes))
        lines += [
            f"  client id {client_id}   secret {demo.secret}",
            f"  (tenant {client.tenant}, plan {client.plan}, scopes {scopes}): {demo.may}",
            "  get a token (valid "
            f"{config.oauth.token_lifetime_s} s), then send it as Authorization: Bearer <token>:",
            f"    curl -s -u {client_id}:{demo.secret} -d grant_type=client_credentials "
            f"{token_url}",
        ]
    if len(lines) == 1:
        return ""
    return "\n".join(lines)


def _start_sandbox(
    config: GatewayConfig, state_dir: Path, simulate: float
) -> subprocess.Popen[bytes]:
    """The reference backends, each on the port its configured URL names."""
    ports = []
    for name in SANDBOX_BACKENDS:
        url = httpx.URL(getattr(config.backends, name).url)
        ports += ["--port", f"{name}={url.port or 80}"]
    command = [
        sys.executable,
        "-m",
        "sandbox",
        *("--state-dir", str(state_dir)),
        *("--simulate", str(simulate)),
        *ports,
    ]
    return subprocess.Popen(command, start_new_session=True, env={**os.environ})


def _wait_for_backends(config: GatewayConfig, sandbox: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + SANDBOX_START_TIMEOUT_S
    pending = {name: getattr(config.backends, name).url for name in SANDBOX_BACKENDS}
    with httpx.Client(timeout=1.0) as client:
        while pending:
            if sandbox.poll() is not None:
                raise SystemExit("the reference backends stopped while starting")
            if time.monotonic() > deadline:
                raise SystemExit(f"reference backends not healthy: {', '.join(sorted(pending))}")
            for name, url in list(pending.items()):
                try:
                    if client.get(f"{url}/_admin/health").status_code == 200:
                        del pending[name]
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)


def _point_webhooks_at_gateway(config: GatewayConfig) -> None:
    base = f"http://{config.server.host}:{config.server.port}/webhooks"
    with httpx.Client(timeout=5.0) as client:
        for name, secret_key in PUSHING_BACKENDS.items():
            url = getattr(config.backends, name).url
            secret = getattr(config.webhooks, secret_key)
            response = client.put(
                f"{url}/_admin/webhooks", json={"url": f"{base}/{name}", "secret": secret}
            )
            response.raise_for_status()


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
