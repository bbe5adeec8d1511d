"""One tenant's flood of ERP reads through a real gateway does not starve another tenant.

The reference ERP allows its key 20 requests a second for everyone and answers 429 past it.
C-1001 floods the gateway with returns listings (one ERP call each); meanwhile C-1002 reads
the same listing 20 times, one at a time: every one of its reads is answered, while the
flood's excess is C-1001's own `BACKEND_THROTTLED`.
"""

from __future__ import annotations

import asyncio
import collections
from pathlib import Path

import httpx
import pytest

from gateway.config import ConfigError, load_config
from tests.gateway.conftest import API_KEYS, gateway_process, write_config
from tests.sandbox_processes import Sandbox, free_port

pytestmark = pytest.mark.sandbox

RETURNS = {"query": "{ returns(first: 20) { returns { id authorizedAt } } }"}
FLOOD = 300
FLOOD_CONCURRENCY = 30


def outcome(answer: httpx.Response) -> str:
    if answer.status_code != 200:
        return f"HTTP {answer.status_code}"
    errors = answer.json().get("errors")
    return str(errors[0]["extensions"]["code"]) if errors else "ok"


async def flood_and_read(url: str) -> tuple[collections.Counter[str], list[str]]:
    limits = httpx.Limits(max_connections=FLOOD_CONCURRENCY + 2)
    async with httpx.AsyncClient(timeout=60.0, limits=limits) as client:

        async def ask(tenant: str) -> str:
            answer = await client.post(url, json=RETURNS, headers={"X-API-Key": API_KEYS[tenant]})
            return outcome(answer)

        assert await ask("C-1002") == "ok"
        remaining = iter(range(FLOOD))
        flood: collections.Counter[str] = collections.Counter()
        flooding = asyncio.Event()

        async def flooder() -> None:
            for _ in remaining:
                flooding.set()
                flood[await ask("C-1001")] += 1

        workers = [asyncio.create_task(flooder()) for _ in range(FLOOD_CONCURRENCY)]
        await flooding.wait()
        reads = []
        for _ in range(20):
            reads.append(await ask("C-1002"))
            await asyncio.sleep(0.1)
        await asyncio.gather(*workers)
    return flood, reads


def test_a_flooding_tenant_does_not_starve_another(
    sandbox: Sandbox, clean_faults: Sandbox, tmp_path: Path
) -> None:
    port = free_port()
    config = tmp_path / "gateway.toml"
    write_config(config, sandbox, port, tmp_path / "gateway.sqlite3", polling=False)
    with gateway_process(config, port) as gateway:
        flood, reads = asyncio.run(flood_and_read(gateway.graphql_url()))
    assert reads == ["ok"] * 20, f"C-1002's reads during the flood: {reads}"
    assert sum(flood.values()) == FLOOD
    assert set(flood) <= {"ok", "BACKEND_THROTTLED"}, flood
    assert flood["ok"] > 0, flood


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[backends.erp]\ntenant_max_concurrency = 0\n", "backends.erp.tenant_max_concurrency"),
        ("[backends.erp]\ntenant_max_concurrency = 99999\n", "less than or equal to 10000"),
        ("[backends.erp]\nmax_requests_per_s = -1\n", "backends.erp.max_requests_per_s"),
        ("[backends.erp]\nmax_requests_per_s = 'fast'\n", "backends.erp.max_requests_per_s"),
        ("[backends.erp]\nmax_requests_per_s = 1e9\n", "backends.erp.max_requests_per_s"),
    ],
)
def test_a_bad_share_setting_fails_at_start_naming_the_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert expected in str(error.value)
