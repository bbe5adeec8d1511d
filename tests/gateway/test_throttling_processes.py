"""Two real gateway processes sharing Redis spend one client's quota together."""

from __future__ import annotations

import uuid
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.gateway.conftest import gateway_process
from tests.sandbox_processes import free_port

KEY = "key-of-the-shared-partner-0123"
QUERY = {"query": "{ __typename }"}


def write(path: Path, port: int, redis_url: str, namespace: str) -> Path:
    digest = __import__("hashlib").sha256(KEY.encode()).hexdigest()
    path.write_text(
        f"""
[server]
host = "127.0.0.1"
port = {port}

[stores]
database_url = "sqlite+aiosqlite:///{path.parent / f"gateway-{port}.sqlite3"}"
cache = "{redis_url}"
cache_namespace = "{namespace}"

[polling]
enabled = false

[throttling]
enabled = true
strategy = "moving-window"

[plans.standard]
[plans.partners]
rate_limits = ["7/minute"]

[clients.partner]
tenant = "C-1002"
api_key_sha256 = "{digest}"
plan = "partners"
"""
    )
    return path


@pytest.mark.services
def test_two_gateways_sharing_redis_share_one_limit(tmp_path: Path, redis_url: str) -> None:
    namespace = f"throttling-test-{uuid.uuid4().hex[:8]}"
    with ExitStack() as stack:
        gateways = []
        with pytest.MonkeyPatch.context() as patch:
            patch.delenv("LG_THROTTLING__ENABLED", raising=False)
            for name in ("first", "second"):
                directory = tmp_path / name
                directory.mkdir()
                port = free_port()
                config = write(directory / "gateway.toml", port, redis_url, namespace)
                gateways.append(stack.enter_context(gateway_process(config, port)))
        statuses = []
        with httpx.Client(timeout=10.0) as client:
            for number in range(10):
                gateway = gateways[number % 2]
                answer = client.post(
                    f"{gateway.url}/graphql", json=QUERY, headers={"x-api-key": KEY}
                )
                statuses.append(answer.status_code)
        assert statuses == [200] * 7 + [429] * 3, "7 a minute over both processes together"
        assert answer.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert answer.headers["ratelimit-policy"] == '"60s";q=7;w=60'
