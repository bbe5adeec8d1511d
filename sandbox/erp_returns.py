"""The ERP's return orders (RMAs): authorizations to send goods of a shipped order back.

In the ERP's own words: a return order (`rma_no`) refers to a sales document (`ref_doc`) and
its item positions (`ref_pos`), with a reason code per item and the plant the goods go back
to. The ERP checks each return against the order: only shipped quantities, less what earlier
return orders already took back, and only within the return window after delivery.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.seed import RETURN_REASONS, ReturnOrder, World
from sandbox.service import ApiError, Handler, json_object, not_found, utc_now, validation_error
from sandbox.store import Store

COLLECTION = "return_orders"
RETURN_WINDOW_DAYS = 30
"""Days after the requested delivery date during which a return may be authorized."""
MAX_ITEMS = 50
SHIPPED_STATUSES = frozenset({"SHIP", "INV"})
"""Order statuses whose items all left the warehouse; a partly shipped order ("PART") does not
say which items did, so nothing of it counts as shipped until it is."""
NEXT_STATUS = MappingProxyType({"AUTH": "SHPD", "SHPD": "RCVD", "RCVD": "CLSD"})
Idempotent = Callable[[Request, Callable[[], tuple[int, Any]]], Response]
Listing = Callable[..., tuple[list[dict[str, Any]], str | None]]
"""`Backend.listing`: one filtered page of a collection and the next token."""


def return_document(order: ReturnOrder, zone: ZoneInfo) -> dict[str, Any]:
    created = order.created_at.astimezone(zone).isoformat()
    return {
        "rma_no": order.rma_no,
        "ref_doc": order.ref_doc,
        "sold_to": order.sold_to,
        "plant": order.plant,
        "status": order.status,
        "created_at": created,
        "carrier_tracking": order.carrier_tracking,
        "items": [
            {
                "pos": item.pos,
                "ref_pos": item.ref_pos,
                "material": item.material,
                "qty": str(item.qty),
                "uom": item.uom,
                "reason_code": item.reason_code,
            }
            for item in order.items
        ],
        "changed_at": created,
    }


class ReturnOrders:
    """The ERP's return-order routes over its store; the ERP backend mounts them."""

    def __init__(self, store: Store, zone: ZoneInfo, listing: Listing) -> None:
        self.store = store
        self.zone = zone
        self._listing = listing

    def load(self, world: World) -> None:
        self.store.insert_many(
            COLLECTION, ((r.rma_no, return_document(r, self.zone)) for r in world.returns)
        )
        self.store.set_meta("rma_no", str(400000 + len(world.returns)))

    def routes(
        self, prefix: str, guarded: Callable[[Handler], Handler], idempotent: Idempotent
    ) -> list[BaseRoute]:
        async def create(request: Request) -> Response:
            body = await json_object(request)
            return idempotent(request, lambda: (201, self.create(body)))

        return [
            Route(f"{prefix}/return-orders", guarded(self.list), methods=["GET"]),
            Route(f"{prefix}/return-orders", guarded(create), methods=["POST"]),
            Route(f"{prefix}/return-orders/{{rma_no}}", guarded(self.get), methods=["GET"]),
        ]

    async def get(self, request: Request) -> Response:
        document = self.store.get(COLLECTION, request.path_params["rma_no"])
        if document is None:
            raise not_found("return order")
        return JSONResponse(document)

    async def list(self, request: Request) -> Response:
        records, token = self._listing(
            request,
            COLLECTION,
            ("sold_to", "ref_doc", "status", "rma_no"),
            token_param="page_token",
            limits=(50, 200),
            sort_param="sort",
        )
        return JSONResponse({"records": records, "next_page_token": token})

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        ref_doc, sold_to, items = self._checked(body)
        order = self.store.get("orders", ref_doc)
        if order is None or order["sold_to"] != sold_to:
            raise not_found(f"sales order {ref_doc}")  # never confirm another customer's order
        order_items = {item["pos"]: item for item in order["items"]}
        unknown = [
            {"field": f"items[{index}].ref_pos", "message": f"no item {pos} on {ref_doc}"}
            for index, (pos, _, _) in enumerate(items)
            if pos not in order_items
        ]
        if unknown:
            raise validation_error(unknown)
        today = self._now().date()
        closes = date.fromisoformat(order["req_delivery_date"]) + timedelta(RETURN_WINDOW_DAYS)
        if today > closes:
            raise ApiError(
                409,
                "return_window_closed",
                f"returns of {ref_doc} closed on {closes.isoformat()}",
                details=[{"field": "ref_doc", "closed_on": closes.isoformat()}],
            )
        self._check_quantities(order, items)
        now = self._now().isoformat()
        rma_no = f"RMA-{self.store.next_number('rma_no', 400001)}"
        document = {
            "rma_no": rma_no,
            "ref_doc": ref_doc,
            "sold_to": sold_to,
            "plant": order["items"][0]["plant"],
            "status": "AUTH",
            "created_at": now,
            "carrier_tracking": None,
            "items": [
                {
                    "pos": 10 * (index + 1),
                    "ref_pos": pos,
                    "material": order_items[pos]["material"],
                    "qty": _text(qty),
                    "uom": order_items[pos]["uom"],
                    "reason_code": reason,
                }
                for index, (pos, qty, reason) in enumerate(items)
            ],
            "changed_at": now,
        }
        self.store.put(COLLECTION, rma_no, document)
        return document

    def _checked(self, body: dict[str, Any]) -> tuple[str, str, list[tuple[int, Decimal, str]]]:
        details: list[dict[str, Any]] = []
        for field in ("ref_doc", "sold_to"):
            if not isinstance(body.get(field), str) or not body[field]:
                details.append({"field": field, "message": "required"})
        items = body.get("items")
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
            details.append({"field": "items", "message": f"must be a list of 1..{MAX_ITEMS} items"})
            items = []
        checked: list[tuple[int, Decimal, str]] = []
        for index, item in enumerate(items):
            where = f"items[{index}]"
            if not isinstance(item, dict):
                details.append({"field": where, "message": "must be an object"})
                continue
            pos = item.get("ref_pos")
            if not isinstance(pos, int) or isinstance(pos, bool) or not 0 < pos < 100_000:
                details.append({"field": f"{where}.ref_pos", "message": "must be an item number"})
            qty = _decimal(item.get("qty"))
            if qty is None or qty <= 0 or qty > 1_000_000 or qty != qty.to_integral_value():
                details.append({"field": f"{where}.qty", "message": "must be a whole number > 0"})
            reason = item.get("reason_code")
            if reason not in RETURN_REASONS:
                message = f"must be one of {', '.join(RETURN_REASONS)}"
                details.append({"field": f"{where}.reason_code", "message": message})
            if not details:
                assert isinstance(pos, int) and qty is not None and isinstance(reason, str)
                checked.append((pos, qty, reason))
        if details:
            raise validation_error(details)
        return body["ref_doc"], body["sold_to"], checked

    def _check_quantities(
        self, order: dict[str, Any], items: list[tuple[int, Decimal, str]]
    ) -> None:
        """Each item's requested total within what shipped less what earlier returns took."""
        shipped = order["status"] in SHIPPED_STATUSES
        returned: Counter[int] = Counter()
        for earlier in self.store.find(COLLECTION, ref_doc=order["doc_no"]):
            if earlier["status"] != "REJ":
                for item in earlier["items"]:
                    returned[item["ref_pos"]] += Decimal(item["qty"])
        requested: Counter[int] = Counter()
        for pos, qty, _ in items:
            requested[pos] += qty
        order_items = {item["pos"]: item for item in order["items"]}
        exceeding = []
        for pos, qty in requested.items():
            available = Decimal(order_items[pos]["qty"]) if shipped else Decimal(0)
            if returned[pos] + qty > available:
                exceeding.append(
                    {
                        "field": "items",
                        "ref_pos": pos,
                        "material": order_items[pos]["material"],
                        "shipped": _text(available),
                        "returned": _text(Decimal(returned[pos])),
                        "requested": _text(qty),
                    }
                )
        if exceeding:
            raise ApiError(
                409,
                "qty_exceeds_shipped",
                "more returned than shipped on " + ", ".join(str(e["ref_pos"]) for e in exceeding),
                details=exceeding,
            )

    def advance(self, rma_no: str, steps: int) -> list[dict[str, Any]]:
        document = self.store.get(COLLECTION, rma_no)
        if document is None:
            raise not_found(f"return order {rma_no}")
        events = []
        with self.store.transaction():
            for _ in range(steps):
                status = NEXT_STATUS.get(document["status"])
                if status is None:
                    break
                document = document | {"status": status, "changed_at": self._now().isoformat()}
                self.store.put(COLLECTION, rma_no, document)
                events.append({"rma_no": rma_no, "status": status})
        return events

    def _now(self) -> datetime:
        return utc_now().astimezone(self.zone)


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _text(quantity: Decimal) -> str:
    return (
        str(quantity.to_integral_value())
        if quantity == quantity.to_integral_value()
        else str(quantity)
    )
