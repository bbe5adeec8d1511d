"""What the reference backends tell a reader about change: the ERP's order change log, and the
WMS pushing every position change (completed picks included) with a revision number."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.sandbox.conftest import Receiver
from tests.sandbox.helpers import erp_get
from tests.sandbox_processes import Sandbox

pytestmark = pytest.mark.sandbox
CHANGES = "/api/v1/sales-order-changes"
SECRET = "feed-secret"


async def _changes_to_end(client: httpx.AsyncClient, sandbox: Sandbox, token: str | None):
    """Every change after `token`, and the token reached (bounded: 300 orders + a few)."""
    changes: list[dict] = []
    for _ in range(20):
        params = {"limit": 200} | ({"page_token": token} if token else {})
        page = (await erp_get(client, sandbox, CHANGES, **params)).json()
        changes += page["records"]
        token = page["next_page_token"]
        if not page["has_more"]:
            return changes, token
    raise AssertionError("the change log did not end within 20 pages")


async def test_the_change_log_starts_with_every_order_and_then_lists_each_change_once(
    clean_faults: Sandbox,
) -> None:
    async with httpx.AsyncClient() as client:
        backlog, token = await _changes_to_end(client, clean_faults, None)
        assert token is not None
        numbers = [change["change_no"] for change in backlog]
        assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
        assert {c["doc_no"] for c in backlog} >= {f"SO-{100000 + n}" for n in range(1, 301)}
        latest = {c["doc_no"]: c["sales_order"]["status"] for c in backlog}  # last change wins
        open_order = next(doc_no for doc_no, status in reversed(latest.items()) if status == "OPEN")
        nothing, same_token = await _changes_to_end(client, clean_faults, token)
        assert (nothing, same_token) == ([], token), "a reader at the end is told nothing new"

        await clean_faults.aadvance("erp", open_order, 2)
        changed, _ = await _changes_to_end(client, clean_faults, token)
    assert [c["doc_no"] for c in changed] == [open_order, open_order]
    assert [c["sales_order"]["status"] for c in changed] == ["REL", "SHIP"]
    assert changed[0]["change_no"] < changed[1]["change_no"]
    assert changed[1]["sales_order"]["changed_at"] == changed[1]["changed_at"]


async def test_the_change_log_refuses_bad_tokens_limits_and_callers(clean_faults: Sandbox) -> None:
    async with httpx.AsyncClient() as client:
        bad_token = await erp_get(client, clean_faults, CHANGES, page_token="not-a-token")
        too_many = await erp_get(client, clean_faults, CHANGES, limit=201)
        anonymous = await client.get(f"{clean_faults.erp}{CHANGES}")
        await clean_faults.aset_faults("erp", maintenance=True)
        closed = await erp_get(client, clean_faults, CHANGES)
    assert bad_token.status_code == 422 and bad_token.json()["details"][0]["field"] == "page_token"
    assert too_many.status_code == 422
    assert anonymous.status_code == 401
    assert closed.status_code == 503


async def test_a_completed_pick_pushes_the_position_it_changed(
    hooks: Receiver, sandbox: Sandbox
) -> None:
    await sandbox.aset_webhook("wms", hooks.url("wms"), SECRET)
    headers = sandbox.headers("wms")
    async with httpx.AsyncClient(headers=headers) as client:
        tasks = await client.get(
            f"{sandbox.wms}/v2/tasks", params={"state": "open", "type": "PICK", "limit": 1}
        )
        task = tasks.json()["data"][0]
        where = {"warehouse": task["warehouse"], "bin": task["bin"], "sku": task["sku"]}
        before = (await client.get(f"{sandbox.wms}/v2/inventory", params=where)).json()["data"]
        await sandbox.aadvance("wms", task["task_id"], 1)
        after = (await client.get(f"{sandbox.wms}/v2/inventory", params=where)).json()["data"]
    received = await hooks.wait_for("wms", 2)
    events = [json.loads(r.body) for r in received]
    adjusted = [e for e in events if e["type"] == "inventory.adjusted"]
    assert len(adjusted) == 1, f"one position push expected, got {[e['type'] for e in events]}"
    pushed = adjusted[0]["data"]
    assert (pushed["delta"], pushed["reason"]) == (-task["qty"], "PICK")
    assert pushed["on_hand"] == after[0]["on_hand"] == max(0, before[0]["on_hand"] - task["qty"])
    assert pushed["rev"] == after[0]["rev"] == before[0]["rev"] + 1
