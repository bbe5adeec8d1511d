"""The reference WMS: stock by bin, warehouse tasks, and signed outbound webhooks.

REST with opaque cursors and idempotency keys on writes; it pushes what happens on the floor
(adjustments, completed tasks, dispatched shipments) at least once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.faults import FaultState
from sandbox.runner import run
from sandbox.seed import World
from sandbox.service import (
    ApiError,
    Backend,
    BackendConfig,
    guard,
    iso_utc,
    json_object,
    not_found,
    utc_now,
    validation_error,
)
from sandbox.store import Store
from sandbox.webhooks import Outbound
from sandbox.wms_outbound import POSTAL_CODES, OutboundOrders
from sandbox.wms_returns import EVENT_TYPES as RETURN_EVENT_TYPES
from sandbox.wms_returns import ReturnsDock

TOKEN = "wms-demo-token"
REASONS = ("DAMAGED", "COUNT", "FOUND", "RETURNED")
PICK_REASON = "PICK"
"""The reason a position pushed after a completed pick carries (adjustments use `REASONS`)."""
EVENT_TYPES = ("inventory.adjusted", "task.completed", "shipment.dispatched", *RETURN_EVENT_TYPES)


def position_key(warehouse: str, bin_code: str, sku: str) -> str:
    return f"{warehouse}:{bin_code}:{sku}"


class WmsBackend(Backend):
    name = "wms"
    default_port = 8102
    indexed_fields = ("sku", "warehouse", "order_ref", "rma_ref")
    credential_headers = ("authorization",)

    def __init__(self, config: BackendConfig, store: Store, faults: FaultState) -> None:
        super().__init__(config, store, faults)
        self.returns = ReturnsDock(store, self._push, self.listing, position_key)
        self.outbound = OutboundOrders(store)

    def sign(self, message: Outbound, secret: str, timestamp: int) -> dict[str, str]:
        signed = f"{timestamp}.".encode() + message.body
        digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        return {
            "X-WMS-Event": message.event_type,
            "X-WMS-Delivery": message.delivery_id,
            "X-WMS-Timestamp": str(timestamp),
            "X-WMS-Signature": f"sha256={digest}",
        }

    def load(self, world: World) -> None:
        store = self.store
        store.insert_many(
            "warehouses",
            (
                (
                    w.code,
                    {
                        "warehouse": w.code,
                        "name": w.name,
                        "city": w.place.city,
                        "country": w.place.country,
                        "timezone": w.place.timezone,
                        "postal_code": POSTAL_CODES.get(w.code, "-"),
                    },
                )
                for w in world.warehouses
            ),
        )
        store.insert_many(
            "positions",
            (
                (
                    position_key(p.warehouse, p.bin, p.sku),
                    {
                        "warehouse": p.warehouse,
                        "bin": p.bin,
                        "sku": p.sku,
                        "on_hand": p.on_hand,
                        "allocated": p.allocated,
                        "quarantine": p.quarantine,
                        "in_transit": p.in_transit,
                        "returned": p.returned,
                        "uom": p.uom,
                        "updated": iso_utc(p.updated),
                        "rev": 1,
                    },
                )
                for p in world.positions
            ),
        )
        store.insert_many(
            "tasks",
            (
                (
                    t.task_id,
                    {
                        "task_id": t.task_id,
                        "type": t.type,
                        "order_ref": t.order_ref,
                        "warehouse": t.warehouse,
                        "bin": t.bin,
                        "sku": t.sku,
                        "qty": t.qty,
                        "state": t.state,
                        "done_at": iso_utc(t.done_at) if t.done_at else None,
                    },
                )
                for t in world.tasks
            ),
        )
        store.insert_many(
            "dispatches",
            (
                (
                    s.order_ref,
                    {
                        "order_ref": s.order_ref,
                        "tracking_number": s.tracking_number,
                        "carrier": s.carrier,
                    },
                )
                for s in world.shipments
                if s.booking_status != "CANCELLED"
            ),
        )
        self.returns.load(world)

    def routes(self) -> list[BaseRoute]:
        guarded = guard(lambda request: request.headers.get("authorization") == f"Bearer {TOKEN}")
        return [
            Route("/v2/warehouses", guarded(self.list_warehouses), methods=["GET"]),
            Route("/v2/inventory", guarded(self.list_inventory), methods=["GET"]),
            Route("/v2/tasks", guarded(self.list_tasks), methods=["GET"]),
            Route("/v2/tasks/{task_id}", guarded(self.get_task), methods=["GET"]),
            Route("/v2/tasks/{task_id}/confirm", guarded(self.confirm_task), methods=["POST"]),
            Route("/v2/adjustments", guarded(self.create_adjustment), methods=["POST"]),
            *self.returns.routes(guarded, self.idempotent),
            *self.outbound.routes(guarded, self.idempotent),
        ]

    def _listing(self, request: Request, collection: str, filters: tuple[str, ...]) -> Response:
        data, cursor = self.listing(
            request, collection, filters, token_param="cursor", limits=(100, 500)
        )
        return JSONResponse({"data": data, "cursor": cursor})

    async def list_warehouses(self, request: Request) -> Response:
        return JSONResponse({"data": self.store.find("warehouses")})

    async def list_inventory(self, request: Request) -> Response:
        return self._listing(request, "positions", ("sku", "warehouse", "bin"))

    async def list_tasks(self, request: Request) -> Response:
        return self._listing(request, "tasks", ("order_ref", "warehouse", "state", "type"))

    async def get_task(self, request: Request) -> Response:
        task = self.store.get("tasks", request.path_params["task_id"])
        if task is None:
            raise not_found("task")
        return JSONResponse(task)

    async def confirm_task(self, request: Request) -> Response:
        body = await json_object(request)
        task_id = request.path_params["task_id"]
        return self.idempotent(request, lambda: (200, self._confirm(task_id, body)))

    async def create_adjustment(self, request: Request) -> Response:
        body = await json_object(request)
        return self.idempotent(request, lambda: (201, self._adjust(body)))

    def _confirm(self, task_id: str, body: dict[str, Any]) -> dict[str, Any]:
        task = self.store.get("tasks", task_id)
        if task is None:
            raise not_found("task")
        qty = body.get("qty", task["qty"])
        if not isinstance(qty, int) or isinstance(qty, bool) or not 0 < qty <= task["qty"]:
            detail = {"field": "qty", "message": f"must be an integer 1..{task['qty']}"}
            raise validation_error([detail])
        operator = body.get("operator")
        if operator is not None and not isinstance(operator, str):
            raise validation_error([{"field": "operator", "message": "must be a string"}])
        if task["state"] == "done":
            raise ApiError(409, "conflict", "task already confirmed")
        if task["type"] == "PICK":
            position = self.store.get(
                "positions", position_key(task["warehouse"], task["bin"], task["sku"])
            )
            on_hand = position["on_hand"] if position is not None else 0
            if on_hand < qty:
                detail = {"field": "qty", "message": f"only {on_hand} on hand", "on_hand": on_hand}
                raise ApiError(409, "insufficient_stock", "short pick", details=[detail])
        self.outbound.record_dispatch(task, body)
        return self._complete(task, qty, utc_now())

    def _complete(self, task: dict[str, Any], qty: int, moment: datetime) -> dict[str, Any]:
        """Mark a task done, take picked stock off its bin and push the resulting events."""
        task = task | {"state": "done", "done_at": iso_utc(moment)}
        self.store.put("tasks", task["task_id"], task)
        if task["type"] == "PICK":
            key = position_key(task["warehouse"], task["bin"], task["sku"])
            position = self.store.get("positions", key)
            if position is not None:
                position["on_hand"] = max(0, position["on_hand"] - qty)
                position["allocated"] = max(0, position["allocated"] - qty)
                self._save_position(key, position, moment)
                picked = position | {"delta": -qty, "reason": PICK_REASON}
                self._push("inventory.adjusted", task["warehouse"], picked, moment)
        self._push("task.completed", task["warehouse"], task, moment)
        if task["type"] == "SHIP":
            dispatch = self.store.get("dispatches", task["order_ref"])
            if dispatch is not None:
                self._push("shipment.dispatched", task["warehouse"], dispatch, moment)
        return task

    def _adjust(self, body: dict[str, Any]) -> dict[str, Any]:
        details: list[dict[str, str]] = []
        for field in ("warehouse", "bin", "sku"):
            if not isinstance(body.get(field), str) or not body[field]:
                details.append({"field": field, "message": "required"})
        delta = body.get("delta")
        if not isinstance(delta, int) or isinstance(delta, bool) or delta == 0:
            details.append({"field": "delta", "message": "must be a non-zero integer"})
        reason = body.get("reason")
        if reason not in REASONS:
            details.append({"field": "reason", "message": f"must be one of {', '.join(REASONS)}"})
        if not details and self.store.get("warehouses", body["warehouse"]) is None:
            details.append({"field": "warehouse", "message": "unknown warehouse"})
        if details:
            raise validation_error(details)
        key = position_key(body["warehouse"], body["bin"], body["sku"])
        position = self.store.get("positions", key)
        if position is None:
            if delta < 0:
                detail = {"field": "bin", "message": "no stock at this position", "on_hand": 0}
                raise validation_error([detail])
            position = {
                "warehouse": body["warehouse"],
                "bin": body["bin"],
                "sku": body["sku"],
                "on_hand": 0,
                "allocated": 0,
                "quarantine": 0,
                "in_transit": 0,
                "returned": 0,
                "uom": "EA",
            }
        if position["on_hand"] + delta < 0:
            on_hand = position["on_hand"]
            detail = {"field": "delta", "message": f"only {on_hand} on hand", "on_hand": on_hand}
            raise validation_error([detail])
        now = utc_now()
        position["on_hand"] += delta
        if reason == "DAMAGED" and delta < 0:
            position["quarantine"] += -delta
        if reason == "RETURNED" and delta > 0:
            position["returned"] += delta
        self._save_position(key, position, now)
        adjustment_id = f"ADJ-{self.store.next_number('adjustment', 700001)}"
        record = {"adjustment_id": adjustment_id, "position": position}
        self.store.put("adjustments", adjustment_id, record | {"delta": delta, "reason": reason})
        data = position | {"delta": delta, "reason": reason}
        self._push("inventory.adjusted", position["warehouse"], data, now)
        return record

    def _save_position(self, key: str, position: dict[str, Any], moment: datetime) -> None:
        """Every change of a position goes through here: `rev` counts the changes, so a reader
        holding two copies of a position knows which is newer whatever order they came in."""
        position["rev"] = int(position.get("rev", 0)) + 1
        position["updated"] = iso_utc(moment)
        self.store.put("positions", key, position)

    def _push(
        self, event_type: str, warehouse: str, data: dict[str, Any], moment: datetime
    ) -> dict[str, Any]:
        event = {
            "event_id": f"evt_{uuid.uuid4().hex[:24]}",
            "type": event_type,
            "occurred_at": iso_utc(moment),
            "warehouse": warehouse,
            "data": data,
        }
        assert self.webhooks is not None
        self.webhooks.send(
            Outbound(
                delivery_id=f"dlv_{uuid.uuid4().hex[:24]}",
                event_type=event_type,
                body=json.dumps(event).encode(),
            )
        )
        return event

    def _open_tasks(self, reference: str) -> list[dict[str, Any]]:
        task = self.store.get("tasks", reference)
        if task is not None:
            return [task] if task["state"] == "open" else []
        tasks = self.store.find("tasks", order_ref=reference)
        if not tasks:
            raise not_found(f"task or order {reference}")
        return [t for t in tasks if t["state"] == "open"]

    async def advance(self, reference: str, steps: int) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        with self.store.transaction():
            for task in self._open_tasks(reference)[:steps]:
                done = self._complete(task, task["qty"], utc_now())
                events.append({"type": "task.completed", "task": done})
        return events

    async def emit(
        self, reference: str, status: str, occurred_at: datetime, extra: dict[str, Any]
    ) -> list[dict[str, Any]]:
        if status == "task.completed":
            task = self.store.get("tasks", reference)
            if task is None:
                raise not_found("task")
            data = task | {"state": "done", "done_at": iso_utc(occurred_at)}
            return [self._push(status, task["warehouse"], data, occurred_at)]
        if status == "shipment.dispatched":
            dispatch = self.store.get("dispatches", reference)
            data = (dispatch or {"order_ref": reference}) | {
                k: extra[k] for k in ("tracking_number", "carrier") if k in extra
            }
            if "tracking_number" not in data:
                raise not_found(f"shipment of {reference}")
            warehouse = extra.get("warehouse") or self._warehouse_of(reference)
            return [self._push(status, warehouse, data, occurred_at)]
        if status == "inventory.adjusted":
            position = self.store.get("positions", reference)
            if position is None:
                raise not_found("position (reference is warehouse:bin:sku)")
            data = position | {
                "delta": extra.get("delta", 0),
                "reason": extra.get("reason", "COUNT"),
            }
            return [self._push(status, position["warehouse"], data, occurred_at)]
        if status in RETURN_EVENT_TYPES:
            return self.returns.emit(reference, status, occurred_at)
        detail = {"field": "status", "message": f"must be one of {', '.join(EVENT_TYPES)}"}
        raise validation_error([detail])

    def _warehouse_of(self, order_ref: str) -> str:
        tasks = self.store.page("tasks", limit=1, where={"order_ref": order_ref})[0]
        return tasks[0]["warehouse"] if tasks else ""

    async def simulate_step(self) -> None:
        open_tasks = self.store.page("tasks", limit=100, where={"state": "open"})[0]
        for task in self.random.sample(open_tasks, min(self.simulate_batch, len(open_tasks))):
            await self.advance(task["task_id"], 1)


def main(argv: list[str] | None = None) -> None:
    """`python -m sandbox.wms`."""
    run(WmsBackend, argv)


if __name__ == "__main__":
    main()
