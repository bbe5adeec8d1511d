"""The WMS's returns dock: goods received against an RMA, then inspected line by line.

In the WMS's own words: a receipt (`receipt_id`) for an RMA reference (`rma_ref`) of a stock
owner (`owner`) in a warehouse; each line's `condition` after inspection is "sellable" (put
away to the returns bin, back in stock) or "damaged" (quarantined, written off). One RMA is
received once. Posting a receipt pushes `return.received`, then the stock moves
(`inventory.adjusted`, reason RETURNED or DAMAGED), then `return.inspected`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.seed import World
from sandbox.service import (
    ApiError,
    Handler,
    iso_utc,
    json_object,
    not_found,
    utc_now,
    validation_error,
)
from sandbox.store import Store

COLLECTION = "return_receipts"
CONDITIONS = ("sellable", "damaged")
SEED_CONDITION = {"A": "sellable", "D": "damaged"}
RESTOCK_BIN = "RET-01"
QUARANTINE_BIN = "QC-01"
MAX_LINES = 50
MAX_QTY = 100_000
MAX_TEXT = 64
EVENT_TYPES = ("return.received", "return.inspected")

Push = Callable[[str, str, dict[str, Any], datetime], dict[str, Any]]
"""`WmsBackend._push`: send one signed event (type, warehouse, data, moment)."""
Idempotent = Callable[[Request, Callable[[], tuple[int, Any]]], Response]
Listing = Callable[..., tuple[list[dict[str, Any]], str | None]]
PositionKey = Callable[[str, str, str], str]


class ReturnsDock:
    """The WMS's return-receipt routes over its store; the WMS backend mounts them."""

    def __init__(
        self, store: Store, push: Push, listing: Listing, position_key: PositionKey
    ) -> None:
        self.store = store
        self._push = push
        self._listing = listing
        self._position_key = position_key

    def load(self, world: World) -> None:
        receipts = [r for r in world.returns if r.receipt_no and r.received_at]
        self.store.insert_many(
            COLLECTION,
            (
                (
                    r.receipt_no,
                    {
                        "receipt_id": r.receipt_no,
                        "rma_ref": r.rma_no,
                        "owner": r.sold_to,
                        "warehouse": r.plant,
                        "state": "inspected",
                        "received_at": iso_utc(r.received_at),
                        "inspected_at": iso_utc(r.received_at),
                        "lines": [
                            {
                                "line": index + 1,
                                "sku": item.material,
                                "qty": item.qty,
                                "uom": item.uom,
                                "condition": SEED_CONDITION[item.grade],
                                "bin": _bin_for(SEED_CONDITION[item.grade]),
                            }
                            for index, item in enumerate(r.items)
                        ],
                    },
                )
                for r in receipts
                if r.receipt_no is not None and r.received_at is not None
            ),
        )
        self.store.set_meta("receipt", str(900000 + len(world.returns)))

    def routes(
        self, guarded: Callable[[Handler], Handler], idempotent: Idempotent
    ) -> list[BaseRoute]:
        async def receive(request: Request) -> Response:
            body = await json_object(request)
            return idempotent(request, lambda: (201, self.receive(body)))

        return [
            Route("/v2/returns", guarded(self.list), methods=["GET"]),
            Route("/v2/returns", guarded(receive), methods=["POST"]),
            Route("/v2/returns/{receipt_id}", guarded(self.get), methods=["GET"]),
        ]

    async def list(self, request: Request) -> Response:
        data, cursor = self._listing(
            request,
            COLLECTION,
            ("rma_ref", "warehouse", "owner", "state"),
            token_param="cursor",
            limits=(100, 500),
        )
        return JSONResponse({"data": data, "cursor": cursor})

    async def get(self, request: Request) -> Response:
        receipt = self.store.get(COLLECTION, request.path_params["receipt_id"])
        if receipt is None:
            raise not_found("receipt")
        return JSONResponse(receipt)

    def receive(self, body: dict[str, Any]) -> dict[str, Any]:
        """Receive and inspect in one go, as the dock scans and grades each carton."""
        rma_ref, owner, warehouse, lines = self._checked(body)
        earlier = self.store.find(COLLECTION, rma_ref=rma_ref)
        if earlier:
            raise ApiError(
                409,
                "already_received",
                f"{rma_ref} was received as {earlier[0]['receipt_id']}",
                details=[{"field": "rma_ref", "receipt_id": earlier[0]["receipt_id"]}],
            )
        now = utc_now()
        receipt = {
            "receipt_id": f"RR-{self.store.next_number('receipt', 900001)}",
            "rma_ref": rma_ref,
            "owner": owner,
            "warehouse": warehouse,
            "state": "received",
            "received_at": iso_utc(now),
            "inspected_at": None,
            "lines": [
                {
                    "line": index + 1,
                    "sku": sku,
                    "qty": qty,
                    "uom": uom,
                    "condition": None,
                    "bin": None,
                }
                for index, (sku, qty, uom, _) in enumerate(lines)
            ],
        }
        self.store.put(COLLECTION, receipt["receipt_id"], receipt)
        self._push("return.received", warehouse, receipt, now)
        for line, (_, _, _, condition) in zip(receipt["lines"], lines, strict=True):
            line["condition"] = condition
            line["bin"] = _bin_for(condition)
            self._put_away(warehouse, line, now)
        receipt = receipt | {"state": "inspected", "inspected_at": iso_utc(now)}
        self.store.put(COLLECTION, receipt["receipt_id"], receipt)
        self._push("return.inspected", warehouse, receipt, now)
        return receipt

    def _put_away(self, warehouse: str, line: dict[str, Any], moment: datetime) -> None:
        """Sellable units back into stock in the returns bin; damaged ones into quarantine."""
        key = self._position_key(warehouse, line["bin"], line["sku"])
        position = self.store.get("positions", key) or {
            "warehouse": warehouse,
            "bin": line["bin"],
            "sku": line["sku"],
            "on_hand": 0,
            "allocated": 0,
            "quarantine": 0,
            "in_transit": 0,
            "returned": 0,
            "uom": line["uom"],
        }
        if line["condition"] == "sellable":
            position["on_hand"] += line["qty"]
            position["returned"] += line["qty"]
            delta, reason = line["qty"], "RETURNED"
        else:
            position["quarantine"] += line["qty"]
            delta, reason = 0, "DAMAGED"
        position["updated"] = iso_utc(moment)
        position["rev"] = int(position.get("rev", 0)) + 1  # every change counts (WmsBackend)
        self.store.put("positions", key, position)
        self._push(
            "inventory.adjusted", warehouse, position | {"delta": delta, "reason": reason}, moment
        )

    def _checked(
        self, body: dict[str, Any]
    ) -> tuple[str, str, str, list[tuple[str, int, str, str]]]:
        details: list[dict[str, str]] = []
        for field in ("rma_ref", "owner", "warehouse"):
            value = body.get(field)
            if not isinstance(value, str) or not 0 < len(value) <= MAX_TEXT:
                details.append({"field": field, "message": f"required, 1..{MAX_TEXT} characters"})
        if not details and self.store.get("warehouses", body["warehouse"]) is None:
            details.append({"field": "warehouse", "message": "unknown warehouse"})
        raw_lines = body.get("lines")
        if not isinstance(raw_lines, list) or not 1 <= len(raw_lines) <= MAX_LINES:
            details.append({"field": "lines", "message": f"must be a list of 1..{MAX_LINES} lines"})
            raw_lines = []
        lines: list[tuple[str, int, str, str]] = []
        for index, line in enumerate(raw_lines):
            where = f"lines[{index}]"
            if not isinstance(line, dict):
                details.append({"field": where, "message": "must be an object"})
                continue
            sku, qty = line.get("sku"), line.get("qty")
            uom, condition = line.get("uom", "EA"), line.get("condition")
            if not isinstance(sku, str) or not 0 < len(sku) <= MAX_TEXT:
                details.append({"field": f"{where}.sku", "message": "required"})
            if not isinstance(qty, int) or isinstance(qty, bool) or not 0 < qty <= MAX_QTY:
                details.append(
                    {"field": f"{where}.qty", "message": f"must be an integer 1..{MAX_QTY}"}
                )
            if not isinstance(uom, str) or not 0 < len(uom) <= 8:
                details.append({"field": f"{where}.uom", "message": "must be a unit code"})
            if condition not in CONDITIONS:
                message = f"must be one of {', '.join(CONDITIONS)}"
                details.append({"field": f"{where}.condition", "message": message})
            if not details:
                lines.append((sku, qty, uom, condition))  # type: ignore[arg-type]
        if details:
            raise validation_error(details)
        return body["rma_ref"], body["owner"], body["warehouse"], lines

    def emit(self, receipt_id: str, event_type: str, moment: datetime) -> list[dict[str, Any]]:
        """Push a receipt's event again (a resend from the WMS's outbox), as it is now."""
        receipt = self.store.get(COLLECTION, receipt_id)
        if receipt is None:
            raise not_found("receipt")
        data = receipt
        if event_type == "return.received":
            data = receipt | {
                "state": "received",
                "inspected_at": None,
                "lines": [line | {"condition": None, "bin": None} for line in receipt["lines"]],
            }
        return [self._push(event_type, receipt["warehouse"], data, moment)]


def _bin_for(condition: str) -> str:
    return RESTOCK_BIN if condition == "sellable" else QUARANTINE_BIN
