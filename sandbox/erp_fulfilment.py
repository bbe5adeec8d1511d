"""The ERP's side of fulfilment: stock reservations for released orders, goods issue with its
freight charge, and credit notes for returns, in the ERP's own words.

- A reservation (`res_no`) holds a released order's items (`ACTIVE`) until goods issue consumes
  it (`CONSUMED`) or it is released (`RELEASED`); an order has one active reservation at most.
- Goods issue posts the shipment of a released order: the order becomes `SHIP` and the freight
  charge (carrier, tracking number, amount) is recorded for the invoice.
- Book stock (`GET /stock`): what the ERP believes each plant holds of each material, from the
  warehouse counts it started with, less what goods issues took out. Whatever the warehouse
  does without telling the ERP (adjustments, damaged returns) makes the two differ, which
  reconciliation exists to find.
- A credit note (`cn_no`) credits the items of a return order, valued at the order's prices
  with the customer's tax, and closes it (`CLSD`); a return order is credited once, a rejected
  one never.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.erp_returns import Idempotent, Listing
from sandbox.seed import TAX_RATES, World, money
from sandbox.service import ApiError, Handler, json_object, not_found, validation_error
from sandbox.store import Store

RESERVATIONS = "reservations"
STOCK = "stock"
CREDIT_NOTES = "credit_notes"
FREIGHT = "freight"
RESERVABLE = frozenset({"REL", "PART"})
CREDITABLE = frozenset({"AUTH", "SHPD", "RCVD"})
MAX_TEXT = 64


class Fulfilment:
    """The ERP's reservation, goods issue and credit note routes; the ERP backend mounts them.
    `save_order` is the ERP's one way to write an order (it keeps the change log)."""

    def __init__(
        self,
        store: Store,
        listing: Listing,
        save_order: Callable[[dict[str, Any]], None],
        now: Callable[[], datetime],
    ) -> None:
        self.store = store
        self._listing = listing
        self._save_order = save_order
        self._now = now

    def load(self, world: World) -> None:
        totals: dict[tuple[str, str], list[Any]] = {}
        for position in world.positions:
            total = totals.setdefault((position.warehouse, position.sku), [0, position.uom])
            total[0] += position.on_hand
        self.store.insert_many(
            STOCK,
            (
                (
                    _stock_key(plant, material),
                    {"plant": plant, "material": material, "unrestricted": str(qty), "uom": uom},
                )
                for (plant, material), (qty, uom) in sorted(totals.items())
            ),
        )
        self.store.set_meta("res_no", "600000")
        self.store.set_meta("cn_no", "800000")

    def routes(
        self, prefix: str, guarded: Callable[[Handler], Handler], idempotent: Idempotent
    ) -> list[BaseRoute]:
        async def reserve(request: Request) -> Response:
            body = await json_object(request)
            return idempotent(request, lambda: (201, self.reserve(body)))

        async def release(request: Request) -> Response:
            res_no = request.path_params["res_no"]
            return idempotent(request, lambda: (200, self.release(res_no)))

        async def goods_issue(request: Request) -> Response:
            body = await json_object(request)
            doc_no = request.path_params["doc_no"]
            return idempotent(request, lambda: (200, self.goods_issue(doc_no, body)))

        async def credit(request: Request) -> Response:
            body = await json_object(request)
            return idempotent(request, lambda: (201, self.credit(body)))

        return [
            Route(f"{prefix}/reservations", guarded(self.list_reservations), methods=["GET"]),
            Route(f"{prefix}/reservations", guarded(reserve), methods=["POST"]),
            Route(f"{prefix}/reservations/{{res_no}}", guarded(self.get_reservation)),
            Route(f"{prefix}/reservations/{{res_no}}/release", guarded(release), methods=["POST"]),
            Route(
                f"{prefix}/sales-orders/{{doc_no}}/goods-issue",
                guarded(goods_issue),
                methods=["POST"],
            ),
            Route(f"{prefix}/sales-orders/{{doc_no}}/freight", guarded(self.get_freight)),
            Route(f"{prefix}/credit-notes", guarded(self.list_credit_notes), methods=["GET"]),
            Route(f"{prefix}/stock", guarded(self.list_stock), methods=["GET"]),
            Route(f"{prefix}/credit-notes", guarded(credit), methods=["POST"]),
        ]

    async def list_reservations(self, request: Request) -> Response:
        return self._records(request, RESERVATIONS, ("sales_doc", "status"))

    async def list_credit_notes(self, request: Request) -> Response:
        return self._records(request, CREDIT_NOTES, ("ref_doc", "bill_to"))

    def _records(self, request: Request, collection: str, filters: tuple[str, ...]) -> Response:
        records, token = self._listing(
            request, collection, filters, token_param="page_token", limits=(50, 200)
        )
        return JSONResponse({"records": records, "next_page_token": token})

    async def list_stock(self, request: Request) -> Response:
        """Book stock by plant and material, page by page."""
        return self._records(request, STOCK, ())

    async def get_reservation(self, request: Request) -> Response:
        document = self.store.get(RESERVATIONS, request.path_params["res_no"])
        if document is None:
            raise not_found("reservation")
        return JSONResponse(document)

    async def get_freight(self, request: Request) -> Response:
        doc_no = request.path_params["doc_no"]
        order = self.store.get("orders", doc_no)
        freight = self.store.get(FREIGHT, doc_no)
        if order is None or freight is None:
            raise not_found(f"freight of {doc_no}")
        return JSONResponse(
            {"sales_doc": doc_no, "currency": freight.get("currency", order["currency"])} | freight
        )

    def reserve(self, body: dict[str, Any]) -> dict[str, Any]:
        doc_no = _text(body, "sales_doc")
        order = self.store.get("orders", doc_no)
        if order is None:
            raise not_found(f"sales order {doc_no}")
        if order["status"] not in RESERVABLE:
            raise ApiError(409, "conflict", f"order {doc_no} is not released ({order['status']})")
        active = self.store.find(RESERVATIONS, sales_doc=doc_no, status="ACTIVE")
        if active:
            raise ApiError(
                409,
                "already_reserved",
                f"order {doc_no} is reserved as {active[0]['res_no']}",
                details=[{"field": "sales_doc", "res_no": active[0]["res_no"]}],
            )
        now = self._now().isoformat()
        document = {
            "res_no": f"RES-{self.store.next_number('res_no', 600001)}",
            "sales_doc": doc_no,
            "sold_to": order["sold_to"],
            "status": "ACTIVE",
            "items": [
                {k: item[k] for k in ("pos", "material", "qty", "uom", "plant")}
                for item in order["items"]
            ],
            "created_at": now,
            "changed_at": now,
        }
        self.store.put(RESERVATIONS, document["res_no"], document)
        return document

    def release(self, res_no: str) -> dict[str, Any]:
        """Releasing a released reservation changes nothing; a consumed one cannot be."""
        document = self.store.get(RESERVATIONS, res_no)
        if document is None:
            raise not_found("reservation")
        if document["status"] == "CONSUMED":
            raise ApiError(409, "conflict", f"{res_no} was consumed by goods issue")
        if document["status"] == "ACTIVE":
            document = document | {"status": "RELEASED", "changed_at": self._now().isoformat()}
            self.store.put(RESERVATIONS, res_no, document)
        return document

    def goods_issue(self, doc_no: str, body: dict[str, Any]) -> dict[str, Any]:
        details: list[dict[str, str]] = []
        texts = {}
        for field in ("carrier", "tracking"):
            value = body.get(field)
            if not isinstance(value, str) or not 0 < len(value) <= MAX_TEXT:
                details.append({"field": field, "message": f"required, 1..{MAX_TEXT} characters"})
            else:
                texts[field] = value
        amount = _amount(body.get("freight_amount"))
        if amount is None:
            details.append({"field": "freight_amount", "message": "must be a number >= 0"})
        currency = body.get("currency")
        if not (isinstance(currency, str) and len(currency) == 3 and currency.isupper()):
            details.append({"field": "currency", "message": "must be an ISO 4217 code"})
        if details:
            raise validation_error(details)
        order = self.store.get("orders", doc_no)
        if order is None:
            raise not_found(f"sales order {doc_no}")
        if order["status"] not in RESERVABLE:
            raise ApiError(409, "conflict", f"order {doc_no} is not released ({order['status']})")
        now = self._now().isoformat()
        with self.store.transaction():
            for reservation in self.store.find(RESERVATIONS, sales_doc=doc_no, status="ACTIVE"):
                consumed = reservation | {"status": "CONSUMED", "changed_at": now}
                self.store.put(RESERVATIONS, reservation["res_no"], consumed)
            freight = {
                "carrier": texts["carrier"],
                "tracking": texts["tracking"],
                "amount": str(amount),
                "currency": currency,
            }
            self.store.put(FREIGHT, doc_no, freight)
            for item in order["items"]:
                key = _stock_key(item["plant"], item["material"])
                stock = self.store.get(STOCK, key)
                if stock is not None:
                    left = Decimal(stock["unrestricted"]) - Decimal(item["qty"])
                    self.store.put(STOCK, key, stock | {"unrestricted": str(left)})
            shipped = order | {"status": "SHIP", "changed_at": now}
            self._save_order(shipped)
        return shipped

    def credit(self, body: dict[str, Any]) -> dict[str, Any]:
        rma_no = _text(body, "ref_doc")
        rma = self.store.get("return_orders", rma_no)
        if rma is None:
            raise not_found(f"return order {rma_no}")
        credited = self.store.find(CREDIT_NOTES, ref_doc=rma_no)
        if credited:
            raise ApiError(
                409,
                "already_credited",
                f"{rma_no} was credited as {credited[0]['cn_no']}",
                details=[{"field": "ref_doc", "cn_no": credited[0]["cn_no"]}],
            )
        if rma["status"] not in CREDITABLE:
            raise ApiError(409, "conflict", f"{rma_no} cannot be credited ({rma['status']})")
        order = self.store.get("orders", rma["ref_doc"])
        if order is None:
            raise not_found(f"sales order {rma['ref_doc']}")
        prices = {item["pos"]: Decimal(item["net_price"]) for item in order["items"]}
        net = money(sum((Decimal(i["qty"]) * prices.get(i["ref_pos"], 0) for i in rma["items"]), 0))
        customer = self.store.get("customers", order["sold_to"]) or {"country": "US"}
        tax = money(net * TAX_RATES.get(customer["country"], Decimal("0.0725")))
        document = {
            "cn_no": f"CN-{self.store.next_number('cn_no', 800001)}",
            "ref_doc": rma_no,
            "sales_doc": order["doc_no"],
            "bill_to": order["sold_to"],
            "currency": order["currency"],
            "net": str(net),
            "tax": str(tax),
            "gross": str(net + tax),
            "status": "OPEN",
            "created_at": self._now().isoformat(),
        }
        with self.store.transaction():
            self.store.put(CREDIT_NOTES, document["cn_no"], document)
            closed = rma | {"status": "CLSD", "changed_at": document["created_at"]}
            self.store.put("return_orders", rma_no, closed)
        return document


def _stock_key(plant: str, material: str) -> str:
    return f"{plant}:{material}"


def _text(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not 0 < len(value) <= MAX_TEXT:
        raise validation_error([{"field": field, "message": f"required, 1..{MAX_TEXT} characters"}])
    return value


def _amount(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return money(number) if number.is_finite() and number >= 0 else None
