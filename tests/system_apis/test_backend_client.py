"""The resilient client against scripted HTTP answers (httpx.MockTransport): what is retried,
how long it waits, which typed error comes out, what is sent on every attempt."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from system_apis.context import correlation_scope
from system_apis.errors import (
    BackendNotFound,
    BackendRejected,
    BackendThrottled,
    BackendTimeout,
    BackendUnavailable,
    CircuitOpen,
)
from system_apis.resilience.breaker import BreakerState
from system_apis.resilience.client import BackendClient
from system_apis.settings import BackendSettings

Script = list[httpx.Response | Exception]


class Recorder:
    """Answers requests from a script and remembers every request it saw."""

    def __init__(self, script: Script) -> None:
        self.script = list(script)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def make_client(
    script: Script, sleeps: list[float] | None = None, **overrides: object
) -> tuple[BackendClient, Recorder]:
    recorder = Recorder(script)
    options: dict[str, object] = {
        "name": "ERP",
        "url": "http://erp.test",
        "max_retries": 2,
        "breaker_failure_threshold": 50,
        "retry_after_max_s": 5.0,
    }
    options.update(overrides)
    waits = sleeps if sleeps is not None else []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    client = BackendClient(
        BackendSettings(**options),  # type: ignore[arg-type]
        transport=httpx.MockTransport(recorder),
        sleep=sleep,
        random=lambda: 0.5,
    )
    return client, recorder


def ok(body: object = None) -> httpx.Response:
    return httpx.Response(200, json=body if body is not None else {"ok": True})


def status(code: int, body: object = None, **headers: str) -> httpx.Response:
    return httpx.Response(code, json=body or {"error": "x"}, headers=headers)


async def test_read_is_retried_after_5xx_and_recovers() -> None:
    sleeps: list[float] = []
    client, recorder = make_client([status(503), status(500), ok()], sleeps)
    assert await client.get_json("/orders/1", operation="get order") == {"ok": True}
    assert len(recorder.requests) == 3
    assert sleeps == pytest.approx([0.05, 0.1])  # full jitter at 0.5 of 0.1 then 0.2


async def test_read_gives_up_after_max_retries_with_the_last_error() -> None:
    client, recorder = make_client([status(502)])
    with pytest.raises(BackendUnavailable) as raised:
        await client.get_json("/orders/1", operation="get order")
    assert len(recorder.requests) == 3
    assert raised.value.status_code == 502


async def test_write_without_idempotency_key_is_not_retried_after_5xx() -> None:
    client, recorder = make_client([status(500), ok()])
    with pytest.raises(BackendUnavailable):
        await client.send_json("POST", "/things", operation="create thing", json={})
    assert len(recorder.requests) == 1


async def test_write_with_idempotency_key_is_retried_with_the_same_key() -> None:
    client, recorder = make_client([status(500), ok()])
    await client.send_json(
        "POST", "/invoices", operation="create invoice", json={}, idempotency_key="key-1"
    )
    assert [r.headers["Idempotency-Key"] for r in recorder.requests] == ["key-1", "key-1"]


async def test_write_is_retried_after_a_connect_error_because_nothing_was_sent() -> None:
    client, recorder = make_client([httpx.ConnectError("refused"), ok()])
    await client.send_json("POST", "/things", operation="create thing", json={})
    assert len(recorder.requests) == 2


async def test_write_is_not_retried_after_a_read_timeout() -> None:
    client, recorder = make_client([httpx.ReadTimeout("slow"), ok()])
    with pytest.raises(BackendTimeout) as raised:
        await client.send_json("POST", "/things", operation="create thing", json={})
    assert len(recorder.requests) == 1
    assert raised.value.timeout_s == client.settings.timeout_s


async def test_read_timeouts_are_retried_then_raised_as_backend_timeout() -> None:
    client, recorder = make_client([httpx.ReadTimeout("slow")])
    with pytest.raises(BackendTimeout):
        await client.get_json("/slow", operation="read slowly")
    assert len(recorder.requests) == 3


async def test_429_waits_the_retry_after_then_retries() -> None:
    sleeps: list[float] = []
    client, recorder = make_client([status(429, **{"Retry-After": "2"}), ok()], sleeps)
    await client.get_json("/orders", operation="list orders")
    assert sleeps == [2.0]
    assert len(recorder.requests) == 2


async def test_429_with_retry_after_beyond_the_cap_fails_throttled_without_waiting() -> None:
    sleeps: list[float] = []
    client, recorder = make_client([status(429, **{"Retry-After": "60"}), ok()], sleeps)
    with pytest.raises(BackendThrottled) as raised:
        await client.get_json("/orders", operation="list orders")
    assert raised.value.retry_after == 60.0
    assert sleeps == [] and len(recorder.requests) == 1


async def test_429_on_the_last_attempt_is_raised_as_throttled() -> None:
    client, _ = make_client([status(429, **{"Retry-After": "1"})])
    with pytest.raises(BackendThrottled):
        await client.get_json("/orders", operation="list orders")


async def test_maintenance_503_beyond_the_cap_is_unavailable_with_its_retry_after() -> None:
    body = {"error": "maintenance", "message": "nightly close, back at 02:00 (db-7 internal)"}
    client, recorder = make_client([status(503, body, **{"Retry-After": "30"})])
    with pytest.raises(BackendUnavailable) as raised:
        await client.get_json("/orders", operation="list orders")
    assert raised.value.retry_after == 30.0
    assert raised.value.public_message == "ERP is down for maintenance (list orders)"
    assert len(recorder.requests) == 1


async def test_404_is_not_found_and_never_retried() -> None:
    client, recorder = make_client([status(404, {"error": "not_found"})])
    with pytest.raises(BackendNotFound) as raised:
        await client.get_json("/orders/x", operation="get order")
    assert (raised.value.status_code, raised.value.reason) == (404, "not_found")
    assert len(recorder.requests) == 1


async def test_422_keeps_the_backends_reason_message_and_details() -> None:
    body = {"error": "validation", "message": "bad line", "details": [{"field": "qty"}]}
    client, _ = make_client([status(422, body)])
    with pytest.raises(BackendRejected) as raised:
        await client.send_json("POST", "/x", operation="create order", json={})
    error = raised.value
    assert (error.status_code, error.reason, error.details) == (
        422,
        "validation",
        [{"field": "qty"}],
    )
    assert error.public_message == "ERP rejected create order: bad line"


async def test_public_messages_never_carry_urls_or_exception_text() -> None:
    client, _ = make_client([httpx.ConnectError("connect to 10.1.2.3:8101 refused")])
    with pytest.raises(BackendUnavailable) as raised:
        await client.get_json("/secret/path", operation="get order")
    assert raised.value.public_message == "ERP is unavailable (get order)"


async def test_correlation_id_is_sent_on_every_attempt() -> None:
    client, recorder = make_client([status(503), ok()])
    await client.get_json("/x", operation="op", correlation_id="corr-1")
    assert [r.headers["X-Correlation-ID"] for r in recorder.requests] == ["corr-1", "corr-1"]


async def test_correlation_id_comes_from_the_request_scope() -> None:
    client, recorder = make_client([ok()])
    with correlation_scope("from-gateway"):
        await client.get_json("/x", operation="op")
    assert recorder.requests[0].headers["X-Correlation-ID"] == "from-gateway"


async def test_without_a_scope_one_fresh_id_covers_all_retries_of_a_call() -> None:
    client, recorder = make_client([status(503), ok()])
    await client.get_json("/x", operation="op")
    ids = {r.headers["X-Correlation-ID"] for r in recorder.requests}
    assert len(ids) == 1 and ids.pop()


async def test_breaker_opens_after_threshold_and_then_fails_without_sending() -> None:
    client, recorder = make_client([status(500)], breaker_failure_threshold=3, max_retries=0)
    for _ in range(3):
        with pytest.raises(BackendUnavailable):
            await client.get_json("/x", operation="op")
    assert client.breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpen):
        await client.get_json("/x", operation="op")
    assert len(recorder.requests) == 3
    assert client.requests_sent == 3


async def test_4xx_answers_count_as_a_healthy_backend() -> None:
    client, _ = make_client([status(404)], breaker_failure_threshold=1, max_retries=0)
    with pytest.raises(BackendNotFound):
        await client.get_json("/x", operation="op")
    assert client.breaker.state is BreakerState.CLOSED


async def test_concurrency_bound_rejects_callers_beyond_it_after_the_wait() -> None:
    release = asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        await release.wait()
        return ok()

    client = BackendClient(
        BackendSettings(
            name="WMS", url="http://wms.test", max_concurrency=2, concurrency_wait_s=0.05
        ),
        transport=httpx.MockTransport(slow),
    )
    first = [asyncio.create_task(client.get_json("/x", operation="op")) for _ in range(2)]
    await asyncio.sleep(0.01)
    assert client.bulkhead.in_flight == 2
    with pytest.raises(BackendUnavailable, match="too many concurrent calls"):
        await client.get_json("/x", operation="op")
    release.set()
    assert await asyncio.gather(*first) == [{"ok": True}, {"ok": True}]
    assert client.bulkhead.rejected == 1
    assert client.breaker.snapshot().total_failures == 0


async def test_credentials_and_query_params_go_on_every_request() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return ok()

    settings = BackendSettings(name="RoadLine", url="http://rl.test")
    client = BackendClient(
        settings,
        headers={"X-Key": "k"},
        params={"apikey": "secret"},
        transport=httpx.MockTransport(answer),
    )
    await client.get_json("/api/x", operation="op", params={"after": "5", "limit": None})
    assert seen[0].headers["X-Key"] == "k"
    assert dict(seen[0].url.params) == {"apikey": "secret", "after": "5"}


async def test_closing_leaves_a_passed_in_http_client_open() -> None:
    http = httpx.AsyncClient(
        base_url="http://x.test", transport=httpx.MockTransport(Recorder([ok()]))
    )
    async with BackendClient(BackendSettings(name="X", url="http://x.test"), http=http):
        pass
    assert not http.is_closed
    await http.aclose()


async def test_closing_closes_the_client_it_built() -> None:
    client, _ = make_client([ok()])
    async with client:
        pass
    with pytest.raises(RuntimeError):
        await client.get_json("/x", operation="op")


def test_settings_name_every_problem() -> None:
    with pytest.raises(ValueError, match="url must be http") as raised:
        BackendSettings(name="ERP", url="ftp://x", timeout_s=0, max_concurrency=0)
    assert "timeout_s must be positive" in str(raised.value)
    assert "max_concurrency must be at least 1" in str(raised.value)


def test_settings_never_show_the_credential() -> None:
    assert "s3cret" not in repr(BackendSettings(name="ERP", url="http://x", credential="s3cret"))
