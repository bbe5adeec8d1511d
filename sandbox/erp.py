"""The reference ERP: sales orders, customers, materials and invoices in the ERP's own words.

REST with page tokens, an API key, a per-key rate limit and a maintenance window (a fault).
It is the system of record for orders, valuation and invoices.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.erp_fulfilment import Fulfilment
from sandbox.erp_returns import ReturnOrders
from sandbox.faults import FaultState
from sandbox.ratelimit import RateLimiter
from sandbox.runner import run
from sandbox.seed import CURRENCY_RATES, ERP_ZONE, TAX_RATES, Order, World, money
from sandbox.service import (
    ApiError,
    Backend,
    BackendConfig,
    Handler,
    decode_token,
    encode_token,
    json_object,
    not_found,
    query_limit,
    unauthorized,
    utc_now,
    validation_error,
)
from sandbox.store import Store

API_KEY = "erp-demo-key"
PREFIX = "/api/v1"
ADDRESS_FIELDS = ("name", "street", "city", "postal_code", "country")
NEXT_STATUS = MappingProxyType({"OPEN": "REL", "REL": "SHIP", "PART": "SHIP"})


def _order_document(order: Order) -> dict[str, Any]:
    address = order.ship_to
    return {
        "doc_no": order.doc_no,
        "sold_to": order.sold_to,
        "ship_to": {
            "name": address.name,
            "street": address.street,
            "city": address.place.city,
            "postal_code": address.postal_code,
            "country": address.place.country,
        },
        "doc_date": order.doc_date.isoformat(),
        "req_delivery_date": order.req_delivery_date.isoformat(),
        "status": order.status,
        "currency": order.currency,
        "items": [
            {
                "pos": item.pos,
                "material": item.material,
                "qty": str(item.qty),
                "uom": item.uom,
                "net_price": str(item.net_price),
                "plant": order.warehouse,
            }
            for item in order.items
        ],
        "changed_at": order.changed_at.isoformat(),
    }


def _change_key(number: int) -> str:
    return f"{number:012d}"


def _change_record(number: int, document: dict[str, Any]) -> dict[str, Any]:
    """One entry of the change log: the change number (the ERP's change stamp) and the order
    as it stood after the change."""
    return {
        "change_no": number,
        "doc_no": document["doc_no"],
        "changed_at": document["changed_at"],
        "sales_order": document,
    }


class ErpBackend(Backend):
    name = "erp"
    default_port = 8101
    indexed_fields = ("sold_to", "status", "sales_doc", "bill_to", "ref_doc", "change_no")
    credential_headers = ("x-erp-key",)
    supports_maintenance: ClassVar[bool] = True

    def __init__(self, config: BackendConfig, store: Store, faults: FaultState) -> None:
        super().__init__(config, store, faults)
        self.limiter = RateLimiter(config.rate_limit)
        self.zone = ZoneInfo(ERP_ZONE)
        self.returns = ReturnOrders(store, self.zone, self.listing)
        self.fulfilment = Fulfilment(store, self.listing, self._save_order, self._now)

    def load(self, world: World) -> None:
        store = self.store
        store.insert_many(
            "customers",
            (
                (
                    c.cust_no,
                    {
                        "cust_no": c.cust_no,
                        "name": c.name,
                        "country": c.country,
                        "currency": c.currency,
                        "credit_block": c.credit_block,
                    },
                )
                for c in world.customers
            ),
        )
        store.insert_many(
            "plants",
            ((c.cust_no, {"plants": list(c.warehouses)}) for c in world.customers),
        )
        store.insert_many(
            "materials",
            (
                (
                    m.material,
                    {
                        "material": m.material,
                        "descr": m.descr,
                        "base_uom": m.base_uom,
                        "gross_weight": f"{m.gross_weight:.3f}",
                        "weight_unit": "KG",
                        "std_price": f"{m.std_price:.2f}",
                        "currency": "EUR",
                    },
                )
                for m in world.materials
            ),
        )
        documents = [_order_document(o) for o in world.orders]
        store.insert_many("orders", ((d["doc_no"], d) for d in documents))
        store.insert_many(
            "order_changes",
            (
                (_change_key(number), _change_record(number, document))
                for number, document in enumerate(documents, start=1)
            ),
        )
        store.set_meta("change_no", str(len(documents)))
        store.insert_many(
            "freight",
            (
                (
                    s.order_ref,
                    {"carrier": s.carrier, "tracking": s.tracking_number, "amount": str(s.amount)},
                )
                for s in world.shipments
                if s.booking_status == "BOOKED"
            ),
        )
        store.insert_many(
            "invoices",
            (
                (
                    i.inv_no,
                    {
                        "inv_no": i.inv_no,
                        "sales_doc": i.sales_doc,
                        "bill_to": i.bill_to,
                        "inv_date": i.inv_date.isoformat(),
                        "due_date": i.due_date.isoformat(),
                        "currency": i.currency,
                        "net": str(i.net),
                        "tax": str(i.tax),
                        "gross": str(i.gross),
                        "freight": [
                            {"carrier": f.carrier, "tracking": f.tracking, "amount": str(f.amount)}
                            for f in i.freight
                        ],
                        "status": i.status,
                    },
                )
                for i in world.invoices
            ),
        )
        self.returns.load(world)
        self.fulfilment.load(world)
        store.set_meta("doc_no", str(100000 + len(world.orders)))
        store.set_meta("inv_no", str(5000000 + len(world.invoices)))

    def routes(self) -> list[BaseRoute]:
        guarded = self._guarded
        return [
            Route(f"{PREFIX}/sales-orders", guarded(self.list_orders), methods=["GET"]),
            Route(f"{PREFIX}/sales-orders", guarded(self.create_order), methods=["POST"]),
            Route(
                f"{PREFIX}/sales-order-changes", guarded(self.list_order_changes), methods=["GET"]
            ),
            Route(f"{PREFIX}/sales-orders/{{doc_no}}", guarded(self.get_order), methods=["GET"]),
            Route(f"{PREFIX}/customers", guarded(self.list_customers), methods=["GET"]),
            Route(f"{PREFIX}/customers/{{key}}", guarded(self.get_customer), methods=["GET"]),
            Route(f"{PREFIX}/materials", guarded(self.list_materials), methods=["GET"]),
            Route(f"{PREFIX}/materials/{{key}}", guarded(self.get_material), methods=["GET"]),
            Route(f"{PREFIX}/invoices", guarded(self.list_invoices), methods=["GET"]),
            Route(f"{PREFIX}/invoices", guarded(self.create_invoice), methods=["POST"]),
            Route(f"{PREFIX}/invoices/{{key}}", guarded(self.get_invoice), methods=["GET"]),
            *self.returns.routes(PREFIX, guarded, self.idempotent),
            *self.fulfilment.routes(PREFIX, guarded, self.idempotent),
        ]

    def _guarded(self, handler: Handler) -> Handler:
        """API key first, then the per-key rate limit, as the ERP's gateway does."""

        async def guarded(request: Request) -> Response:
            key = request.headers.get("x-erp-key")
            if key != API_KEY:
                return unauthorized()
            wait = self.limiter.retry_after(key)
            if wait is not None:
                return JSONResponse(
                    {"error": "rate_limited", "message": "request rate limit exceeded"},
                    status_code=429,
                    headers={"Retry-After": str(wait)},
                )
            return await handler(request)

        return guarded

    def _records(self, request: Request, collection: str, filters: tuple[str, ...]) -> Response:
        records, token = self.listing(
            request,
            collection,
            filters,
            token_param="page_token",
            limits=(50, 200),
            sort_param="sort",
        )
        return JSONResponse({"records": records, "next_page_token": token})

    def _one(self, collection: str, key: str) -> Response:
        document = self.store.get(collection, key)
        if document is None:
            raise not_found()
        return JSONResponse(document)

    async def list_orders(self, request: Request) -> Response:
        return self._records(request, "orders", ("sold_to", "status", "doc_no"))

    async def list_order_changes(self, request: Request) -> Response:
        """The change log of sales orders, oldest change first: each record is the whole order
        as it stood after one change. `next_page_token` is always given (the point reached), so
        a reader that stores it asks only for what changed since; `has_more` says whether to ask
        again at once."""
        after = decode_token(request.query_params.get("page_token"))
        limit = query_limit(request, 50, 200)
        records, more = self.store.page("order_changes", above=("change_no", after), limit=limit)
        reached = records[-1]["change_no"] if records else after
        return JSONResponse(
            {
                "records": records,
                "next_page_token": encode_token(reached),
                "has_more": more is not None,
            }
        )

    async def get_order(self, request: Request) -> Response:
        return self._one("orders", request.path_params["doc_no"])

    async def list_customers(self, request: Request) -> Response:
        return self._records(request, "customers", ())

    async def get_customer(self, request: Request) -> Response:
        return self._one("customers", request.path_params["key"])

    async def list_materials(self, request: Request) -> Response:
        return self._records(request, "materials", ())

    async def get_material(self, request: Request) -> Response:
        return self._one("materials", request.path_params["key"])

    async def list_invoices(self, request: Request) -> Response:
        return self._records(request, "invoices", ("sales_doc", "bill_to", "status"))

    async def get_invoice(self, request: Request) -> Response:
        return self._one("invoices", request.path_params["key"])

    async def create_order(self, request: Request) -> Response:
        body = await json_object(request)
        return self.idempotent(request, lambda: (201, self._new_order(body)))

    async def create_invoice(self, request: Request) -> Response:
        body = await json_object(request)
        return self.idempotent(request, lambda: (201, self._new_invoice(body)))

    def _save_order(self, document: dict[str, Any]) -> None:
        """Every write of an order goes through here, so the change log misses none."""
        with self.store.transaction():
            self.store.put("orders", document["doc_no"], document)
            number = self.store.next_number("change_no", 1)
            self.store.put("order_changes", _change_key(number), _change_record(number, document))

    def _now(self) -> datetime:
        return utc_now().astimezone(self.zone)

    def _new_order(self, body: dict[str, Any]) -> dict[str, Any]:
        details: list[dict[str, Any]] = []
        customer = None
        sold_to = body.get("sold_to")
        if not isinstance(sold_to, str) or not sold_to:
            details.append({"field": "sold_to", "message": "required"})
        else:
            customer = self.store.get("customers", sold_to)
            if customer is None:
                details.append({"field": "sold_to", "message": f"unknown customer {sold_to}"})
            elif customer["credit_block"]:
                details.append({"field": "sold_to", "message": "customer is credit blocked"})
        ship_to = body.get("ship_to")
        if ship_to is not None:
            if not isinstance(ship_to, dict):
                details.append({"field": "ship_to", "message": "must be an object"})
            else:
                for part in ADDRESS_FIELDS:
                    if not isinstance(ship_to.get(part), str) or not ship_to[part]:
                        details.append({"field": f"ship_to.{part}", "message": "required"})
        delivery = body.get("req_delivery_date")
        if delivery is not None:
            try:
                date.fromisoformat(str(delivery))
            except ValueError:
                details.append({"field": "req_delivery_date", "message": "not a date"})
        currency = body.get("currency")
        if currency is not None and not (
            isinstance(currency, str) and re.fullmatch(r"[A-Z]{3}", currency)
        ):
            details.append({"field": "currency", "message": "must be an ISO 4217 code"})
        items = body.get("items")
        if not isinstance(items, list) or not items or len(items) > 100:
            details.append({"field": "items", "message": "must be a list of 1..100 items"})
            items = []
        plants = self.store.get("plants", sold_to)["plants"] if customer else ["WH-AMS"]
        rate = CURRENCY_RATES.get(currency or (customer or {}).get("currency", "EUR"), Decimal(1))
        lines = [
            self._order_line(index, item, plants, rate, details) for index, item in enumerate(items)
        ]
        if details:
            raise validation_error(details)
        assert customer is not None
        now = self._now()
        if ship_to is None:
            ship_to = self._default_ship_to(customer)
        document = {
            "doc_no": f"SO-{self.store.next_number('doc_no', 100001)}",
            "sold_to": sold_to,
            "ship_to": {k: ship_to[k] for k in ADDRESS_FIELDS},
            "doc_date": now.date().isoformat(),
            "req_delivery_date": str(delivery or (now.date() + timedelta(days=7)).isoformat()),
            "status": "OPEN",
            "currency": currency or customer["currency"],
            "items": lines,
            "changed_at": now.isoformat(),
        }
        self._save_order(document)
        return document

    def _order_line(
        self,
        index: int,
        item: Any,
        plants: list[str],
        rate: Decimal,
        details: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """One validated line; default prices are the standard price in the order currency."""
        field = f"items[{index}]"
        if not isinstance(item, dict):
            details.append({"field": field, "message": "must be an object"})
            return {}
        material = self.store.get("materials", str(item.get("material", "")))
        if material is None:
            details.append({"field": f"{field}.material", "message": "unknown material"})
        qty = _decimal(item.get("qty"))
        if qty is None or qty <= 0:
            details.append({"field": f"{field}.qty", "message": "must be a positive number"})
        price = _decimal(item.get("net_price")) if "net_price" in item else None
        if "net_price" in item and (price is None or price < 0):
            details.append({"field": f"{field}.net_price", "message": "must be a number >= 0"})
        plant = item.get("plant", plants[0])
        if plant not in ("WH-AMS", "WH-RTM", "WH-CHI"):
            details.append({"field": f"{field}.plant", "message": "unknown plant"})
        if material is None or qty is None:
            return {}
        default_price = Decimal(material["std_price"]) * rate
        uom = item.get("uom", material["base_uom"])
        if uom != material["base_uom"]:
            details.append({"field": f"{field}.uom", "message": f"must be {material['base_uom']}"})
        return {
            "pos": 10 * (index + 1),
            "material": material["material"],
            "qty": str(qty.normalize()) if qty == qty.to_integral() else str(qty),
            "uom": uom,
            "net_price": str(money(price if price is not None else default_price)),
            "plant": plant,
        }

    def _default_ship_to(self, customer: dict[str, Any]) -> dict[str, str]:
        orders = self.store.page("orders", limit=1, where={"sold_to": customer["cust_no"]})[0]
        if orders:
            return orders[0]["ship_to"]
        return {
            "name": customer["name"],
            "street": "-",
            "city": "-",
            "postal_code": "-",
            "country": customer["country"],
        }

    def _new_invoice(self, body: dict[str, Any]) -> dict[str, Any]:
        sales_doc = body.get("sales_doc")
        if not isinstance(sales_doc, str) or not sales_doc:
            raise validation_error([{"field": "sales_doc", "message": "required"}])
        order = self.store.get("orders", sales_doc)
        if order is None:
            raise not_found(f"sales order {sales_doc}")
        if order["status"] != "SHIP":
            message = "order already invoiced" if order["status"] == "INV" else "order not shipped"
            raise ApiError(409, "conflict", message)
        customer = self.store.get("customers", order["sold_to"]) or {"country": "US"}
        net = money(sum((Decimal(i["qty"]) * Decimal(i["net_price"]) for i in order["items"]), 0))
        tax = money(net * TAX_RATES.get(customer["country"], Decimal("0.0725")))
        freight = self.store.get("freight", sales_doc)
        now = self._now()
        invoice = {
            "inv_no": f"INV-{self.store.next_number('inv_no', 5000001)}",
            "sales_doc": sales_doc,
            "bill_to": order["sold_to"],
            "inv_date": now.date().isoformat(),
            "due_date": (now.date() + timedelta(days=30)).isoformat(),
            "currency": order["currency"],
            "net": str(net),
            "tax": str(tax),
            "gross": str(net + tax),
            "freight": [freight] if freight else [],
            "status": "OPEN",
        }
        self.store.put("invoices", invoice["inv_no"], invoice)
        invoiced = order | {"status": "INV", "changed_at": now.isoformat()}
        self._save_order(invoiced)
        return invoice

    async def advance(self, reference: str, steps: int) -> list[dict[str, Any]]:
        if reference.startswith("RMA-"):
            return self.returns.advance(reference, steps)
        order = self.store.get("orders", reference)
        if order is None:
            raise not_found(f"sales order {reference}")
        events = []
        with self.store.transaction():
            for _ in range(steps):
                status = NEXT_STATUS.get(order["status"])
                if status is None:
                    break
                order = order | {"status": status, "changed_at": self._now().isoformat()}
                self._save_order(order)
                events.append({"doc_no": reference, "status": status})
        return events

    async def simulate_step(self) -> None:
        for status in ("OPEN", "REL"):
            candidates = self.store.page("orders", where={"status": status}, limit=50)[0]
            if candidates:
                await self.advance(self.random.choice(candidates)["doc_no"], 1)


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def main(argv: list[str] | None = None) -> None:
    """`python -m sandbox.erp`."""
    run(ErpBackend, argv)


if __name__ == "__main__":
    main()
