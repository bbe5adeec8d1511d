"""Fresh shipped orders in the reference ERP, for tests that return goods.

The seeded orders are weeks old, so their return window has closed; an order created now is
delivered next week, and returns of it are open for a month after that.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.sandbox_processes import Sandbox

ERP_CALLS = 10


async def shipped_order(
    sandbox: Sandbox, customer_id: str, items: list[tuple[str, int]], *, shipped: bool = True
) -> dict[str, Any]:
    """A new order of `customer_id` for (material, quantity) items, released and shipped
    (only released when not `shipped`)."""
    body = {"sold_to": customer_id, "items": [{"material": m, "qty": q} for m, q in items]}
    async with httpx.AsyncClient(timeout=30.0) as client:
        created = await _erp(client, sandbox, "POST", "/api/v1/sales-orders", body)
        await sandbox.aadvance("erp", created["doc_no"], 2 if shipped else 1)
        return await _erp(client, sandbox, "GET", f"/api/v1/sales-orders/{created['doc_no']}")


async def _erp(
    client: httpx.AsyncClient, sandbox: Sandbox, method: str, path: str, body: Any = None
) -> Any:
    """One ERP call, waiting out its per-key rate limit (other tests share the key)."""
    for _ in range(ERP_CALLS):
        response = await client.request(
            method, f"{sandbox.erp}{path}", json=body, headers=sandbox.headers("erp")
        )
        if response.status_code != 429:
            response.raise_for_status()
            return response.json()
        await asyncio.sleep(float(response.headers.get("retry-after", "1")))
    response.raise_for_status()
    return response.json()
