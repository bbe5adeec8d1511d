"""The WMS's outbound orders: an order released to a warehouse becomes its floor's tasks.

`POST /v2/outbound-orders` with `order_ref`, `warehouse` and `lines` (`sku`, `qty`) makes one
PICK task per line (from the bin holding most of the SKU there), one PACK and one SHIP task.
An order the WMS already has tasks for answers those tasks (200): releasing twice changes
nothing. Confirming the SHIP task with a `tracking_number` and `carrier` records the dispatch
the WMS then pushes (`shipment.dispatched`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from sandbox.service import ApiError, Handler, json_object, validation_error
from sandbox.store import Store

MAX_LINES = 100
MAX_TEXT = 64
POSTAL_CODES: Mapping[str, str] = MappingProxyType(
    {"WH-AMS": "1043 AP", "WH-RTM": "3089 JB", "WH-CHI": "60638"}
)
"""Where each warehouse ships from (carriers rate by it)."""
Idempotent = Callable[[Request, Callable[[], tuple[int, Any]]], Response]


class OutboundOrders:
    def __init__(self, store: Store) -> None:
        self.store = store

    def routes(
        self, guarded: Callable[[Handler], Handler], idempotent: Idempotent
    ) -> list[BaseRoute]:
        async def release(request: Request) -> Response:
            body = await json_object(request)
            return idempotent(request, lambda: self.release(body))

        return [Route("/v2/outbound-orders", guarded(release), methods=["POST"])]

    def release(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        order_ref, warehouse, lines = self._checked(body)
        existing = self.store.find("tasks", order_ref=order_ref)
        if existing:
            return 200, {
                "order_ref": order_ref,
                "warehouse": existing[0]["warehouse"],
                "tasks": existing,
            }
        bins = []
        for index, (sku, _) in enumerate(lines):
            positions = [
                p
                for p in self.store.find("positions", sku=sku, warehouse=warehouse)
                if p["bin"][:3] not in ("RET", "QC-")
            ]
            if not positions:
                message = f"{sku} is not stocked in {warehouse}"
                raise validation_error([{"field": f"lines[{index}].sku", "message": message}])
            bins.append(max(positions, key=lambda p: p["on_hand"])["bin"])
        plan = [
            ("PICK", bin_code, sku, qty) for (sku, qty), bin_code in zip(lines, bins, strict=True)
        ]
        plan.append(("PACK", "PACK-01", lines[0][0], len(lines)))
        plan.append(("SHIP", "DOCK-01", lines[0][0], 1))
        tasks = []
        for kind, bin_code, sku, qty in plan:
            task = {
                "task_id": f"T-{self.store.next_number('task', 900001)}",
                "type": kind,
                "order_ref": order_ref,
                "warehouse": warehouse,
                "bin": bin_code,
                "sku": sku,
                "qty": qty,
                "state": "open",
                "done_at": None,
            }
            self.store.put("tasks", task["task_id"], task)
            tasks.append(task)
        return 201, {"order_ref": order_ref, "warehouse": warehouse, "tasks": tasks}

    def _checked(self, body: dict[str, Any]) -> tuple[str, str, list[tuple[str, int]]]:
        details: list[dict[str, str]] = []
        texts = {}
        for field in ("order_ref", "warehouse"):
            value = body.get(field)
            if not isinstance(value, str) or not 0 < len(value) <= MAX_TEXT:
                details.append({"field": field, "message": f"required, 1..{MAX_TEXT} characters"})
            else:
                texts[field] = value
        if "warehouse" in texts and self.store.get("warehouses", texts["warehouse"]) is None:
            details.append({"field": "warehouse", "message": "unknown warehouse"})
        raw = body.get("lines")
        if not isinstance(raw, list) or not 0 < len(raw) <= MAX_LINES:
            details.append({"field": "lines", "message": f"must be a list of 1..{MAX_LINES}"})
            raw = []
        lines = []
        for index, line in enumerate(raw):
            sku = line.get("sku") if isinstance(line, dict) else None
            qty = line.get("qty") if isinstance(line, dict) else None
            if not isinstance(sku, str) or not 0 < len(sku) <= MAX_TEXT:
                details.append({"field": f"lines[{index}].sku", "message": "required"})
            if not isinstance(qty, int) or isinstance(qty, bool) or not 0 < qty <= 100_000:
                details.append({"field": f"lines[{index}].qty", "message": "must be 1..100000"})
            if not details:
                lines.append((sku, qty))
        if details:
            raise validation_error(details)
        return texts["order_ref"], texts["warehouse"], lines  # type: ignore[return-value]

    def record_dispatch(self, task: dict[str, Any], body: dict[str, Any]) -> None:
        """A SHIP task confirmed with the carrier's tracking number: the dispatch to push."""
        tracking, carrier = body.get("tracking_number"), body.get("carrier")
        if tracking is None and carrier is None:
            return
        for field, value in (("tracking_number", tracking), ("carrier", carrier)):
            if not isinstance(value, str) or not 0 < len(value) <= MAX_TEXT:
                raise validation_error([{"field": field, "message": "required with the other"}])
        if task["type"] != "SHIP":
            raise ApiError(409, "conflict", "only a SHIP task carries a tracking number")
        dispatch = {"order_ref": task["order_ref"], "tracking_number": tracking, "carrier": carrier}
        self.store.put("dispatches", task["order_ref"], dispatch)
