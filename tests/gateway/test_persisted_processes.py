"""Two real gateway processes sharing Redis: a query registered (APQ) on one runs by its hash
on the other, a wrong hash is stored by neither, and each holds a partner to its budget."""

from __future__ import annotations

import hashlib
import json
import uuid
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.gateway.conftest import gateway_process
from tests.sandbox_processes import free_port

KEY = "key-of-the-partner-sharing-two-gateways"
QUERY = "{ orders(first: 2) { orders { id } } }"
EXPENSIVE = "{ orders(first: 100) { orders { id shipments { milestones { status } } } } }"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def write(path: Path, port: int, redis_url: str, namespace: str) -> Path:
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

[clients.partner]
tenant = "C-1002"
api_key_sha256 = "{sha256(KEY)}"
plan = "basic"
"""
    )
    return path


@pytest.mark.services
def test_two_gateways_sharing_redis_share_persisted_queries(tmp_path: Path, redis_url: str) -> None:
    namespace = f"apq-test-{uuid.uuid4().hex[:8]}"
    with ExitStack() as stack:
        gateways = []
        for name in ("first", "second"):
            directory = tmp_path / name
            directory.mkdir()
            port = free_port()
            config = write(directory / "gateway.toml", port, redis_url, namespace)
            gateways.append(stack.enter_context(gateway_process(config, port)))
        first, second = (f"{gateway.url}/graphql" for gateway in gateways)
        headers = {"x-api-key": KEY, "accept": "application/graphql-response+json"}
        extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256(QUERY)}}
        with httpx.Client(timeout=10.0, headers=headers) as client:
            missing = client.post(second, json={"extensions": extensions}).json()
            assert missing["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
            registered = client.post(first, json={"query": QUERY, "extensions": extensions})
            assert registered.status_code == 200, registered.text
            params = {"extensions": json.dumps(extensions)}
            by_hash = client.get(second, params=params)
            assert by_hash.status_code == 200 and by_hash.json() == registered.json()

            wrong = {"persistedQuery": {"version": 1, "sha256Hash": sha256("{ __typename }")}}
            mismatch = client.post(first, json={"query": QUERY, "extensions": wrong})
            assert mismatch.status_code == 400
            still_missing = client.post(second, json={"extensions": wrong}).json()
            assert still_missing["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"

            for url in (first, second):
                refused = client.post(url, json={"query": EXPENSIVE}).json()["errors"][0]
                assert refused["extensions"]["code"] == "COST_ESTIMATED_TOO_EXPENSIVE"
                assert refused["extensions"]["cost.max"] == 5000
