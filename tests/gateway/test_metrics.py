"""Prometheus metrics of the product app, scraped as Prometheus would, over real HTTP.

The gateway app (SQLite store, rate limits on, every backend at an address nobody answers)
runs under uvicorn on loopback; clients send GraphQL requests, webhooks and an SSE
subscription (from the scripted source), and `/metrics` must count each as it happened,
with label values that callers cannot multiply or break.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from federation.router import SubscriptionEvent, SubscriptionStream
from federation.router.streaming import BufferedEventStream, StreamShutdown
from gateway.app import create_app
from gateway.cache_metrics import CacheLookups
from gateway.config import ConfigError, GatewayConfig, load_config
from gateway.metrics import GatewayMetrics
from gateway.subscription_metrics import counting_subscribe
from stores.bundle import open_stores
from stores.cache import open_cache
from tests.federation.streams import ScriptedSource, Served, serving
from tests.sandbox_processes import free_port
from tests.security.conftest import digest
from tests.security.signed_webhooks import SECRETS, signed

KEYS = {
    "operations": "metrics-operations-key-0123",
    "portal": "metrics-portal-key-0123456",
    "limited": "metrics-limited-key-012345",
}
MAX_OPERATION_NAMES = 4
TICKS = "subscription Ticks { tick }"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def settings(directory: Path) -> dict[str, object]:
    nowhere = f"http://127.0.0.1:{free_port()}"
    return {
        "stores": {"database_url": f"sqlite+aiosqlite:///{directory / 'gateway.sqlite3'}"},
        "polling": {"enabled": False},
        "backends": {
            name: {
                "url": nowhere,
                "timeout_s": 0.5,
                "max_retries": 0,
                "breaker_failure_threshold": 1,
                "breaker_reset_s": 60.0,
            }
            for name in ("erp", "wms", "tms", "swiftparcel", "roadline", "heritage")
        },
        "webhooks": {
            "wms_secret": SECRETS["wms"],
            "swiftparcel_secret": SECRETS["swiftparcel"],
            "heritage_password": SECRETS["heritage"],
        },
        "clients": {
            "operations": {
                "tenant": "C-1001",
                "api_key_sha256": digest(KEYS["operations"]),
                "scopes": ["read", "admin"],
            },
            "portal": {"tenant": "C-1001", "api_key_sha256": digest(KEYS["portal"])},
            "limited": {
                "tenant": "C-1002",
                "api_key_sha256": digest(KEYS["limited"]),
                "rate_limits": ["2/minute"],
            },
        },
        "metrics": {"max_operation_names": MAX_OPERATION_NAMES, "figures_interval_s": 1.0},
    }


def configured(directory: Path, **changes: object) -> GatewayConfig:
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("LG_THROTTLING__ENABLED", raising=False)  # rate limits on here
        return GatewayConfig.model_validate({**settings(directory), **changes})


@pytest.fixture(scope="module")
def source() -> ScriptedSource:
    return ScriptedSource()


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("metrics")


@pytest.fixture(scope="module")
def gateway(directory: Path, source: ScriptedSource) -> Iterator[Served]:
    shutdown = StreamShutdown()
    app = create_app(configured(directory), shutdown=shutdown, subscribe=source)
    with serving(app, shutdown) as served:
        yield served


def base(gateway: Served) -> str:
    return f"http://127.0.0.1:{gateway.port}"


async def ask(
    gateway: Served, client: str | None, query: str, operation_name: str | None = None
) -> httpx.Response:
    body: dict[str, object] = {"query": query}
    if operation_name is not None:
        body["operationName"] = operation_name
    headers = {"x-api-key": KEYS[client]} if client else {}
    async with httpx.AsyncClient(timeout=10.0) as session:
        return await session.post(f"{base(gateway)}/graphql", json=body, headers=headers)


async def scrape(gateway: Served) -> Samples:
    async with httpx.AsyncClient(timeout=10.0) as session:
        answer = await session.get(
            f"{base(gateway)}/metrics", headers={"x-api-key": KEYS["operations"]}
        )
    assert answer.status_code == 200, answer.text
    return parsed(answer.text)


def parsed(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def series(samples: Samples, name: str) -> list[dict[str, str]]:
    return [dict(labels) for (sample, labels) in samples if sample == name]


async def eventually(gateway: Served, check, timeout_s: float = 15.0) -> Samples:  # type: ignore[no-untyped-def]
    """Scrape until `check(samples)` holds (the figures are read every second)."""
    deadline = time.monotonic() + timeout_s
    while True:
        samples = await scrape(gateway)
        if check(samples) or time.monotonic() > deadline:
            return samples
        await asyncio.sleep(0.2)


async def test_metrics_need_the_admin_scope_on_the_main_port(gateway: Served) -> None:
    async with httpx.AsyncClient(timeout=10.0) as session:
        anonymous = await session.get(f"{base(gateway)}/metrics")
        reader = await session.get(
            f"{base(gateway)}/metrics", headers={"x-api-key": KEYS["portal"]}
        )
        wrong = await session.get(f"{base(gateway)}/metrics", headers={"x-api-key": "nope" * 9})
        admin = await session.get(
            f"{base(gateway)}/metrics?name[]=x&%00=1", headers={"x-api-key": KEYS["operations"]}
        )
    assert anonymous.status_code == 401 and "gateway_" not in anonymous.text
    assert wrong.status_code == 401 and "gateway_" not in wrong.text
    assert reader.status_code == 403, reader.text
    assert reader.json()["error"] == "insufficient_scope" and "gateway_" not in reader.text
    assert reader.json()["scope"] == "admin"
    assert admin.status_code == 200
    assert admin.headers["content-type"].startswith("text/plain")
    samples = parsed(admin.text)
    assert value(samples, "gateway_plan_cache_entries") >= 0
    assert value(samples, "gateway_backend_breaker_state", backend="erp", state="closed") in (
        0.0,
        1.0,
    )


async def test_requests_are_counted_by_operation_client_and_outcome(gateway: Served) -> None:
    before = await scrape(gateway)
    orders = "query Orders { orders(first: 2) { orders { id } } }"
    assert (await ask(gateway, "portal", orders)).json() == {"data": {"orders": {"orders": []}}}
    assert (await ask(gateway, "portal", orders)).status_code == 200
    who = await ask(gateway, "portal", "query WhoAmI { me { name } }")
    assert who.json()["errors"][0]["extensions"]["code"] == "BACKEND_UNAVAILABLE"
    assert (await ask(gateway, None, orders)).status_code == 401
    assert (await ask(gateway, "portal", "query Broken {")).status_code == 200
    after = await scrape(gateway)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    requests = "gateway_requests_total"
    assert grew(requests, operation="Orders", client="portal", outcome="ok") == 2
    assert grew(requests, operation="WhoAmI", client="portal", outcome="errors") == 1
    assert grew(requests, operation="anonymous", client="anonymous", outcome="unauthenticated") == 1
    assert grew(requests, operation="anonymous", client="portal", outcome="invalid") == 1
    assert grew("gateway_request_duration_seconds_count", operation="Orders") == 2
    assert (
        grew("gateway_subgraph_fetch_duration_seconds_count", subgraph="orders", outcome="ok") == 3
    )
    backend = {"backend": "erp", "operation": "get customer", "outcome": "BackendUnavailable"}
    assert grew("gateway_backend_call_duration_seconds_count", **backend) == 1
    assert value(after, "gateway_backend_breaker_state", backend="erp", state="open") == 1
    assert value(after, "gateway_backend_breaker_state", backend="erp", state="closed") == 0
    assert grew("gateway_plan_cache_lookups_total", result="hit") >= 1
    assert value(after, "gateway_plan_cache_entries") >= 2


async def test_operation_names_from_callers_are_bounded_and_escaped(gateway: Served) -> None:
    hostile = ["N" * 200_000, "Ωmega", "line\nbreak", 'quote"back\\slash', "1digit"]
    for name in hostile:
        answer = await ask(gateway, "portal", "query Known { __typename }", name)
        assert answer.status_code == 200  # refused: no operation has that name
        assert answer.json()["errors"], name
    refused = await ask(gateway, "portal", "query Fresh { __typename }", "NeverRan")
    assert refused.json()["errors"]
    for number in range(MAX_OPERATION_NAMES + 3):
        answer = await ask(gateway, "portal", f"query Named{number} {{ __typename }}")
        assert answer.json() == {"data": {"__typename": "Query"}}
    async with httpx.AsyncClient(timeout=10.0) as session:
        text = (
            await session.get(f"{base(gateway)}/metrics", headers={"x-api-key": KEYS["operations"]})
        ).text
    samples = parsed(text)
    names = {labels["operation"] for labels in series(samples, "gateway_requests_total")}
    assert "NeverRan" not in names, "a refused request took a name's place"
    assert {"invalid", "other"} <= names
    assert len(names - {"anonymous", "invalid", "other"}) == MAX_OPERATION_NAMES
    assert all(len(name) <= 100 and "\n" not in name for name in names)
    assert "Ω" not in text and "N" * 101 not in text
    assert (
        value(samples, "gateway_requests_total", operation="other", client="portal", outcome="ok")
        >= 3
    )
    invalid = {"operation": "invalid", "client": "portal", "outcome": "invalid"}
    assert value(samples, "gateway_requests_total", **invalid) >= 4


async def test_rate_limit_refusals_are_counted_per_client(gateway: Served) -> None:
    answers = [await ask(gateway, "limited", "{ __typename }") for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    samples = await scrape(gateway)
    assert value(samples, "gateway_rate_limited_total", limit="client", client="limited") == 1
    refused = {"operation": "anonymous", "client": "limited", "outcome": "rate_limited"}
    assert value(samples, "gateway_requests_total", **refused) == 1


async def test_webhook_failures_dead_letters_and_event_lag_by_source(gateway: Served) -> None:
    before = await scrape(gateway)
    event = (
        b'{"type": "shipment.dispatched", "event_id": "metrics-e1", "occurred_at": '
        b'"2026-11-20T08:03:00-06:00", "data": {"order_ref": "SO-1", "tracking_number": '
        b'"TMETRICS1", "carrier": "SWFT"}}'
    )
    malformed = b'{"type": "shipment.dispatched", "event_id": 12}'
    async with httpx.AsyncClient(timeout=10.0) as session:
        url = f"{base(gateway)}/webhooks"
        forged = {**signed("wms", event), "X-WMS-Signature": "sha256=" + "0" * 64}
        assert (await session.post(f"{url}/wms", content=event, headers=forged)).status_code == 401
        unknown = await session.post(f"{url}/%0Aevil%22source", content=b"{}")
        assert unknown.status_code == 404
        letter = await session.post(
            f"{url}/wms", content=malformed, headers=signed("wms", malformed)
        )
        assert letter.status_code == 400
        accepted = await session.post(f"{url}/wms", content=event, headers=signed("wms", event))
        assert accepted.status_code == 202, accepted.text
    failures = "gateway_webhook_failures_total"
    lag = "gateway_event_lag_seconds_count"

    def lagged(samples: Samples) -> float:
        return sum(
            count
            for (name, labels), count in samples.items()
            if name == lag and dict(labels)["source"] == "WMS"
        )

    samples = await eventually(
        gateway,
        lambda s: (
            value(s, "gateway_dead_letters", source="wms", reason=reason_of(s)) >= 1
            and lagged(s) > lagged(before)
        ),
    )
    assert value(samples, failures, source="wms", reason="unauthenticated") == 1
    assert value(samples, failures, source="unknown", reason="unknown_source") == 1
    assert value(samples, failures, source="wms", reason="malformed") == 1
    assert value(samples, "gateway_dead_letters", source="wms", reason=reason_of(samples)) >= 1
    assert lagged(samples) > lagged(before), "the accepted event's lag was not observed"


def reason_of(samples: Samples) -> str:
    found = [labels["reason"] for labels in series(samples, "gateway_dead_letters")]
    return found[0] if found else ""


async def test_open_subscriptions_and_delivered_events_are_counted(
    gateway: Served, source: ScriptedSource
) -> None:
    before = await scrape(gateway)
    body = {"query": TICKS, "variables": {"count": 2, "hold": True}}
    headers = {"x-api-key": KEYS["portal"], "accept": "text/event-stream"}
    async with (
        httpx.AsyncClient(timeout=10.0) as session,
        session.stream("POST", f"{base(gateway)}/graphql", json=body, headers=headers) as stream,
    ):
        assert stream.status_code == 200
        events = 0
        async for line in stream.aiter_lines():
            events += line.startswith("event: next")
            if events == 2:
                break
        during = await scrape(gateway)
    assert value(during, "gateway_subscriptions_open", transport="sse") == 1
    delivered = "gateway_subscription_events_total"
    assert value(during, delivered) - value(before, delivered) == 2
    assert source.wait_closed()
    after = await eventually(
        gateway, lambda s: value(s, "gateway_subscriptions_open", transport="sse") == 0
    )
    assert value(after, "gateway_subscriptions_open", transport="sse") == 0
    streamed = {"operation": "anonymous", "client": "portal", "outcome": "stream"}
    assert value(after, "gateway_requests_total", **streamed) >= 1


async def test_events_a_transport_takes_from_a_routers_stream_are_counted_once_each() -> None:
    """The router's streams hand their events over as they arrive (no iteration): the count
    follows what is taken, so a subscription delivered that way is counted too."""
    metrics = GatewayMetrics()
    stream = SubscriptionStream(8, lambda _: None)

    async def subscribe(*_: object, **__: object) -> SubscriptionStream:
        return stream

    counted = await counting_subscribe(subscribe, metrics)(TICKS, None, None)  # type: ignore[arg-type]
    assert isinstance(counted, BufferedEventStream)
    for tick in range(3):
        stream.deliver(SubscriptionEvent({"data": {"tick": tick}}))
    taken = [counted.take() for _ in range(4)]
    assert [event.payload["data"]["tick"] for event in taken[:3] if event] == [0, 1, 2]
    assert taken[3] is None
    assert metrics.registry.get_sample_value("gateway_subscription_events_total") == 3


async def test_an_expensive_scrape_stays_bounded(gateway: Served, directory: Path) -> None:
    """Thousands of dead letters with distinct, hostile reasons: the scrape names the ten most
    frequent reasons of each source and sums the rest, so its size does not follow them."""
    stores = await open_stores(f"sqlite+aiosqlite:///{directory / 'gateway.sqlite3'}")
    try:
        for number in range(1500):
            source = ("swiftparcel", "heritage", "roadline")[number % 3]
            await stores.dead_letters.put(
                source=source,
                reason=f"reason {number % 400}\nline two {'x' * 300}",
                content_type="application/json",
                headers={},
                body=f"body {number}".encode(),
                correlation_id=f"c{number}",
            )
    finally:
        await stores.close()

    def letters(samples: Samples, source: str) -> list[tuple[dict[str, str], float]]:
        return [
            (dict(labels), count)
            for (name, labels), count in samples.items()
            if name == "gateway_dead_letters" and dict(labels)["source"] == source
        ]

    samples = await eventually(
        gateway, lambda s: sum(count for _, count in letters(s, "roadline")) == 500
    )
    for source in ("swiftparcel", "heritage", "roadline"):
        kept = letters(samples, source)
        assert sum(count for _, count in kept) == 500, source
        assert len(kept) == 11, f"{source}: {len(kept)} series"
        assert any(labels["reason"] == "other" for labels, _ in kept)
        assert all(
            len(labels["reason"]) <= 80 and "\n" not in labels["reason"] for labels, _ in kept
        )
    assert len(samples) < 2000, f"{len(samples)} samples in one scrape"


def test_a_metrics_port_of_its_own_serves_without_credentials(tmp_path: Path) -> None:
    port = free_port()
    config = configured(tmp_path, metrics={"port": port, "figures_interval_s": 60.0})
    with TestClient(create_app(config)) as client:
        main = client.get("/metrics", headers={"x-api-key": KEYS["operations"]})
        assert main.status_code == 404
        answer = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10.0)
        assert answer.status_code == 200
        assert "gateway_backend_breaker_state" in answer.text
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2.0)


def test_metrics_off_serves_nothing_and_counts_nothing(tmp_path: Path) -> None:
    config = configured(tmp_path, metrics={"enabled": False})
    with TestClient(create_app(config)) as client:
        assert client.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"x-api-key": KEYS["portal"]}
        ).json() == {"data": {"__typename": "Query"}}
        assert client.get("/metrics", headers={"x-api-key": KEYS["operations"]}).status_code == 404
        assert client.app_state["metrics"] is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[metrics]\nport = 8000\n", "metrics.port (8000) is server.port too"),
        ("[metrics]\nport = 0\n", "metrics.port: Value error, must be 'main' or a port number"),
        ("[metrics]\nport = 70000\n", "metrics.port: Value error"),
        ("[metrics]\nport = 'other'\n", "metrics.port"),
        ("[metrics]\nmax_operation_names = 0\n", "metrics.max_operation_names: Input should"),
        ("[metrics]\nfigures_interval_s = 0.01\n", "metrics.figures_interval_s: Input should"),
        ("[metrics]\nscrape = true\n", "metrics.scrape: unknown key"),
        ("[tracing]\notlp_endpoint = 'ftp://x'\n", "tracing.otlp_endpoint: Value error, must be"),
        ("[tracing]\nsample_ratio = 1.5\n", "tracing.sample_ratio: Input should be less"),
        ("[tracing]\nservice_name = ''\n", "tracing.service_name: String should have at least"),
    ],
)
def test_bad_metrics_and_tracing_settings_fail_naming_the_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert expected in str(error.value)


def test_the_metrics_port_can_be_set_from_the_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LG_METRICS__PORT", "9464")
    assert load_config().metrics.port == 9464
    monkeypatch.setenv("LG_METRICS__PORT", "main")
    assert load_config().metrics.port == "main"


async def test_cache_lookups_are_counted_by_key_kind_on_a_real_cache() -> None:
    metrics = GatewayMetrics()
    cache = open_cache("memory", namespace="metrics-test")
    cache.plugins = [CacheLookups(metrics)]
    await cache.multi_set([("order-owner:O-1", "C-1001"), ("order-owner:O-2", "C-1002")])
    assert await cache.multi_get(["order-owner:O-1", "order-owner:O-2", "order-owner:O-3"]) == [
        "C-1001",
        "C-1002",
        None,
    ]
    assert await cache.get("order-owner:O-1") == "C-1001"
    assert await cache.get("response:abc") is None
    for number in range(30):  # kinds from data are bounded too
        await cache.get(f"kind{number}:x")
    samples = parsed(metrics.exposition().decode())
    lookups = "gateway_cache_lookups_total"
    assert value(samples, lookups, cache="order-owner", result="hit") == 3
    assert value(samples, lookups, cache="order-owner", result="miss") == 1
    assert value(samples, lookups, cache="response", result="miss") == 1
    kinds = {labels["cache"] for labels in series(samples, lookups)}
    assert len(kinds) <= 21 and "other" in kinds
    await cache.close()


def test_a_metrics_port_in_use_stops_the_start_naming_the_setting(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = configured(tmp_path, metrics={"port": port})
        refused = f"metrics.port: cannot listen on 127.0.0.1:{port}"
        with pytest.raises(OSError, match=refused), TestClient(create_app(config)):
            pass


def listening_before_a_free_port() -> tuple[socket.socket, int]:
    """A socket listening on a port whose next port is free (as far as can be told now)."""
    for _ in range(50):
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                taken.close()
                continue
        taken.listen()
        return taken, port
    raise RuntimeError("no two consecutive free ports on loopback")


def test_worker_processes_each_take_the_next_free_metrics_port(tmp_path: Path) -> None:
    """Workers share the gateway's socket but not a metrics port: with two, the second takes
    the port after the configured one; with both taken the start stops naming the setting."""
    taken, port = listening_before_a_free_port()
    with taken, socket.socket() as next_one:
        config = configured(tmp_path, metrics={"port": port, "figures_interval_s": 60.0})
        with TestClient(create_app(config, metrics_ports=2)):
            answer = httpx.get(f"http://127.0.0.1:{port + 1}/metrics", timeout=10.0)
            assert answer.status_code == 200 and "gateway_requests_total" in answer.text
        next_one.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # it was just served
        next_one.bind(("127.0.0.1", port + 1))
        next_one.listen()
        refused = f"metrics.port: cannot listen on 127.0.0.1:{port}-{port + 1}"
        with pytest.raises(OSError, match=refused), TestClient(create_app(config, metrics_ports=2)):
            pass
