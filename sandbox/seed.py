"""One deterministic world that every backend seeds its own slice from.

The backends run as separate processes with separate databases; they agree on order numbers,
pick tasks, bookings and tracking numbers only because each one regenerates the same world
from the same seed. Nothing here may depend on the clock or on iteration order of sets.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from zoneinfo import ZoneInfo

from sandbox.lifecycles import BY_CARRIER, Lifecycle

DEFAULT_SEED = 7
ORDER_COUNT = 300
MATERIAL_COUNT = 320
FIRST_ORDER_DAY = date(2026, 10, 1)
ORDER_DAYS = 50
LATEST_EVENT = datetime(2026, 11, 22, 22, 0, tzinfo=UTC)
ERP_ZONE = "Europe/Amsterdam"
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Place:
    """Where something happens, with the zone local times are told in."""

    city: str
    state: str
    country: str
    timezone: str
    terminal: str


@dataclass(frozen=True, slots=True)
class Address:
    name: str
    street: str
    postal_code: str
    place: Place


@dataclass(frozen=True, slots=True)
class Warehouse:
    code: str
    name: str
    place: Place


@dataclass(frozen=True, slots=True)
class Customer:
    cust_no: str
    name: str
    country: str
    currency: str
    credit_block: bool
    warehouses: tuple[str, ...]
    addresses: tuple[Address, ...]


@dataclass(frozen=True, slots=True)
class Material:
    material: str
    descr: str
    base_uom: str
    gross_weight: Decimal
    std_price: Decimal


@dataclass(frozen=True, slots=True)
class OrderItem:
    pos: int
    material: str
    qty: int
    uom: str
    net_price: Decimal


@dataclass(frozen=True, slots=True)
class Order:
    doc_no: str
    sold_to: str
    ship_to: Address
    doc_date: date
    req_delivery_date: date
    status: str
    currency: str
    warehouse: str
    items: tuple[OrderItem, ...]
    changed_at: datetime


@dataclass(frozen=True, slots=True)
class Position:
    warehouse: str
    bin: str
    sku: str
    on_hand: int
    allocated: int
    quarantine: int
    in_transit: int
    returned: int
    uom: str
    updated: datetime


@dataclass(frozen=True, slots=True)
class Task:
    task_id: str
    type: str
    order_ref: str
    warehouse: str
    bin: str
    sku: str
    qty: int
    state: str
    done_at: datetime | None


@dataclass(frozen=True, slots=True)
class Milestone:
    code: str
    at: datetime
    place: Place
    reason: str | None


@dataclass(frozen=True, slots=True)
class Shipment:
    order_ref: str
    booking_id: str
    carrier: str
    service: str
    tracking_number: str
    booking_status: str
    parcels: tuple[dict[str, float], ...]
    amount: Decimal
    currency: str
    created_at: datetime
    weight_kg: Decimal
    pieces: int
    origin: Place
    destination: Address
    milestones: tuple[Milestone, ...]


@dataclass(frozen=True, slots=True)
class Freight:
    carrier: str
    tracking: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Invoice:
    inv_no: str
    sales_doc: str
    bill_to: str
    inv_date: date
    due_date: date
    currency: str
    net: Decimal
    tax: Decimal
    gross: Decimal
    freight: tuple[Freight, ...]
    status: str


@dataclass(frozen=True, slots=True)
class ReturnItem:
    """One line of a return authorization: which order item comes back, how many, and why."""

    pos: int
    ref_pos: int
    material: str
    qty: int
    uom: str
    reason_code: str
    grade: str
    """What the WMS's inspection found once received: "A" (restock) or "D" (damaged)."""


@dataclass(frozen=True, slots=True)
class ReturnOrder:
    """A return authorization (ERP) and, once the goods arrived, its receipt (WMS)."""

    rma_no: str
    ref_doc: str
    sold_to: str
    plant: str
    status: str
    created_at: datetime
    items: tuple[ReturnItem, ...]
    carrier_tracking: str | None
    receipt_no: str | None
    received_at: datetime | None


@dataclass(frozen=True, slots=True)
class World:
    """Everything every backend knows at first start, before any run-time change."""

    seed: int
    warehouses: tuple[Warehouse, ...]
    customers: tuple[Customer, ...]
    materials: tuple[Material, ...]
    orders: tuple[Order, ...]
    positions: tuple[Position, ...]
    tasks: tuple[Task, ...]
    shipments: tuple[Shipment, ...]
    invoices: tuple[Invoice, ...]
    returns: tuple[ReturnOrder, ...] = ()


AMSTERDAM = Place("Amsterdam", "NH", "NL", "Europe/Amsterdam", "AMS")
ROTTERDAM = Place("Rotterdam", "ZH", "NL", "Europe/Amsterdam", "RTM")
CHICAGO = Place("Chicago", "IL", "US", "America/Chicago", "CHI")
HUBS_EU = (
    Place("Utrecht", "UT", "NL", "Europe/Amsterdam", "UTR"),
    Place("Duisburg", "NW", "DE", "Europe/Berlin", "DUI"),
)
HUBS_US = (
    Place("Indianapolis", "IN", "US", "America/Indiana/Indianapolis", "IND"),
    Place("Memphis", "TN", "US", "America/Chicago", "MEM"),
)

WAREHOUSES = (
    Warehouse("WH-AMS", "Amsterdam distribution centre", AMSTERDAM),
    Warehouse("WH-RTM", "Rotterdam port warehouse", ROTTERDAM),
    Warehouse("WH-CHI", "Chicago distribution center", CHICAGO),
)


CUSTOMERS = (
    Customer(
        "C-1001",
        "Noordhof Retail B.V.",
        "NL",
        "EUR",
        False,
        ("WH-AMS",),
        (
            Address("Noordhof Utrecht", "Vredenburg 40", "3511 BD", HUBS_EU[0]),
            Address(
                "Noordhof Haarlem",
                "Grote Houtstraat 12",
                "2011 SL",
                Place("Haarlem", "NH", "NL", "Europe/Amsterdam", "HLM"),
            ),
        ),
    ),
    Customer(
        "C-1002",
        "Rheinwerk Handels GmbH",
        "DE",
        "EUR",
        False,
        ("WH-RTM",),
        (
            Address(
                "Rheinwerk Koeln",
                "Hohe Strasse 88",
                "50667",
                Place("Koeln", "NW", "DE", "Europe/Berlin", "CGN"),
            ),
            Address(
                "Rheinwerk Essen",
                "Kettwiger Strasse 5",
                "45127",
                Place("Essen", "NW", "DE", "Europe/Berlin", "ESS"),
            ),
        ),
    ),
    Customer(
        "C-1003",
        "Thames Outdoor Ltd",
        "GB",
        "GBP",
        True,
        ("WH-AMS", "WH-RTM"),
        (
            Address(
                "Thames Outdoor London",
                "12 Long Acre",
                "WC2E 9LH",
                Place("London", "LND", "GB", "Europe/London", "LON"),
            ),
        ),
    ),
    Customer(
        "C-1004",
        "Prairie Outfitters Inc.",
        "US",
        "USD",
        False,
        ("WH-CHI",),
        (
            Address(
                "Prairie Outfitters Denver",
                "1600 Wazee St",
                "80202",
                Place("Denver", "CO", "US", "America/Denver", "DEN"),
            ),
            Address(
                "Prairie Outfitters Phoenix",
                "201 E Washington St",
                "85004",
                Place("Phoenix", "AZ", "US", "America/Phoenix", "PHX"),
            ),
        ),
    ),
    Customer(
        "C-1005",
        "Peachtree Home Supply LLC",
        "US",
        "USD",
        False,
        ("WH-CHI",),
        (
            Address(
                "Peachtree Atlanta",
                "55 Peachtree Center Ave",
                "30303",
                Place("Atlanta", "GA", "US", "America/New_York", "ATL"),
            ),
        ),
    ),
    Customer(
        "C-1006",
        "Lone Star Industrial Corp.",
        "US",
        "USD",
        False,
        ("WH-CHI",),
        (
            Address(
                "Lone Star Dallas",
                "2200 Ross Ave",
                "75201",
                Place("Dallas", "TX", "US", "America/Chicago", "DAL"),
            ),
            Address(
                "Lone Star Los Angeles",
                "700 W 7th St",
                "90017",
                Place("Los Angeles", "CA", "US", "America/Los_Angeles", "LAX"),
            ),
        ),
    ),
)

ADJECTIVES = (
    "Steel",
    "Compact",
    "Heavy-duty",
    "Insulated",
    "Folding",
    "Cordless",
    "Waterproof",
    "Modular",
    "Reinforced",
    "Lightweight",
)
NOUNS = (
    "shelf bracket",
    "pallet wrap",
    "drill set",
    "storage bin",
    "work glove",
    "cable reel",
    "tool case",
    "safety vest",
    "hand truck",
    "label roll",
    "tarp",
    "ladder",
)
SWIFT_EXCEPTIONS = ("ADDRESS_INVALID", "CUSTOMS_HOLD", "DAMAGED_IN_TRANSIT", "WEATHER_DELAY")
ORDER_STATUSES = ("OPEN", "REL", "PART", "SHIP", "INV", "CNCL")
STATUS_WEIGHTS_BY_AGE = (
    (30, (2, 3, 5, 30, 55, 5)),
    (10, (5, 10, 10, 45, 25, 5)),
    (0, (25, 30, 10, 30, 0, 5)),
)
TAX_RATES = MappingProxyType({"NL": Decimal("0.21"), "DE": Decimal("0.19"), "GB": Decimal("0.20")})
CURRENCY_RATES = MappingProxyType(
    {"EUR": Decimal("1"), "USD": Decimal("1.08"), "GBP": Decimal("0.86")}
)
ORIGIN_PHASE = frozenset({"MR", "PU", "DISPATCHED", "PICKED_UP", "AT_TERMINAL", "X3", "AF"})
DESTINATION_PHASE = frozenset(
    {
        "OD",
        "DL",
        "NA",
        "HP",
        "OUT_FOR_DELIVERY",
        "DELIVERED",
        "APPOINTMENT_MISSED",
        "REFUSED",
        "X1",
        "D1",
        "A7",
        "AP",
    }
)
RETURN_PHASE = frozenset({"RS", "RETURNED"})
RETURN_REASONS = ("DMG", "WRG", "NND", "DEF")
RETURNING_CUSTOMERS = ("C-1001", "C-1002")
RETURN_STATUSES = ("AUTH", "SHPD", "RCVD")
"""The seeded authorizations of each returning customer: one waiting, one on its way back,
one received and inspected in the warehouse."""


def money(value: Decimal) -> Decimal:
    """Round to cents the way invoices do."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def place_for(code: str, origin: Place, destination: Place, hub: Place) -> Place:
    """Where a carrier status happens: at the origin, at a hub, or at the consignee."""
    if code in ORIGIN_PHASE or code in RETURN_PHASE:
        return origin
    if code in DESTINATION_PHASE:
        return destination
    return hub


def generate(seed: int = DEFAULT_SEED) -> World:
    """Build the world for `seed`; the same seed always gives an identical world."""
    return _Generator(seed).build()


class _Generator:
    """Holds the one random stream so that every choice happens in a fixed order."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.used_tracking: set[str] = set()

    def build(self) -> World:
        materials = self._materials()
        positions, pick_bins = self._positions(materials)
        orders = self._orders(materials)
        tasks = self._tasks(orders, pick_bins)
        shipments = self._shipments(orders, {m.material: m for m in materials})
        invoices = self._invoices(orders, shipments)
        returns = _returns(self.seed, orders)
        return World(
            seed=self.seed,
            warehouses=WAREHOUSES,
            customers=CUSTOMERS,
            materials=materials,
            orders=orders,
            positions=positions,
            tasks=tasks,
            shipments=shipments,
            invoices=invoices,
            returns=returns,
        )

    def _materials(self) -> tuple[Material, ...]:
        rng = self.rng
        return tuple(
            Material(
                material=f"MAT-{number:04d}",
                descr=f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}",
                base_uom="CS" if rng.random() < 0.1 else "EA",
                gross_weight=Decimal(rng.randint(50, 25000)) / 1000,
                std_price=Decimal(rng.randint(150, 45000)) / 100,
            )
            for number in range(1, MATERIAL_COUNT + 1)
        )

    def _positions(
        self, materials: tuple[Material, ...]
    ) -> tuple[tuple[Position, ...], dict[tuple[str, str], str]]:
        rng = self.rng
        positions: list[Position] = []
        pick_bins: dict[tuple[str, str], str] = {}
        start = datetime.combine(FIRST_ORDER_DAY, time(6), tzinfo=UTC)
        for warehouse in WAREHOUSES:
            for material in materials:
                bins: list[str] = []
                bin_count = rng.randint(2, 3)
                while len(bins) < bin_count:
                    candidate = (
                        f"{'ABCDEFGH'[rng.randrange(8)]}-{rng.randint(1, 40):02d}-"
                        f"{rng.randint(1, 6):02d}"
                    )
                    if candidate not in bins:
                        bins.append(candidate)
                pick_bins[(warehouse.code, material.material)] = bins[0]
                for bin_code in bins:
                    on_hand = rng.randint(0, 400)
                    positions.append(
                        Position(
                            warehouse=warehouse.code,
                            bin=bin_code,
                            sku=material.material,
                            on_hand=on_hand,
                            allocated=rng.randint(0, on_hand // 4),
                            quarantine=rng.choice((0, 0, 0, 0, 0, 0, 1, 2, 5)),
                            in_transit=rng.choice((0, 0, 0, 0, 12, 24, 48)),
                            returned=rng.choice((0, 0, 0, 0, 0, 0, 0, 1, 3)),
                            uom=material.base_uom,
                            updated=start + timedelta(minutes=rng.randint(0, ORDER_DAYS * 1440)),
                        )
                    )
        return tuple(positions), pick_bins

    def _orders(self, materials: tuple[Material, ...]) -> tuple[Order, ...]:
        rng = self.rng
        zone = ZoneInfo(ERP_ZONE)
        today = LATEST_EVENT.date()
        orders: list[Order] = []
        for number in range(1, ORDER_COUNT + 1):
            customer = CUSTOMERS[rng.randrange(len(CUSTOMERS))]
            doc_date = FIRST_ORDER_DAY + timedelta(days=(number - 1) * ORDER_DAYS // ORDER_COUNT)
            age = (today - doc_date).days
            weights = next(w for threshold, w in STATUS_WEIGHTS_BY_AGE if age >= threshold)
            status = rng.choices(ORDER_STATUSES, weights=weights)[0]
            rate = CURRENCY_RATES[customer.currency]
            items = tuple(
                OrderItem(
                    pos=10 * (index + 1),
                    material=material.material,
                    qty=rng.randint(1, 24),
                    uom=material.base_uom,
                    net_price=money(material.std_price * rate),
                )
                for index, material in enumerate(rng.sample(materials, rng.randint(1, 4)))
            )
            entered = datetime.combine(doc_date, time(8), tzinfo=zone) + timedelta(
                minutes=rng.randint(0, 600)
            )
            orders.append(
                Order(
                    doc_no=f"SO-{100000 + number}",
                    sold_to=customer.cust_no,
                    ship_to=rng.choice(customer.addresses),
                    doc_date=doc_date,
                    req_delivery_date=doc_date + timedelta(days=rng.randint(5, 10)),
                    status=status,
                    currency=customer.currency,
                    warehouse=rng.choice(customer.warehouses),
                    items=items,
                    changed_at=entered + timedelta(hours=rng.randint(1, 30) if age else 0),
                )
            )
        return tuple(orders)

    def _tasks(
        self, orders: tuple[Order, ...], pick_bins: dict[tuple[str, str], str]
    ) -> tuple[Task, ...]:
        rng = self.rng
        tasks: list[Task] = []
        for order in orders:
            if order.status in ("OPEN", "CNCL"):
                continue
            start = datetime.combine(order.doc_date + timedelta(days=1), time(7), tzinfo=UTC)
            picks_done = {
                "REL": [rng.random() < 0.3 for _ in order.items],
                "PART": [index < len(order.items) - 1 for index in range(len(order.items))],
            }.get(order.status, [True] * len(order.items))
            dock_done = order.status != "REL"
            lines = [
                ("PICK", pick_bins[(order.warehouse, item.material)], item.material, item.qty, done)
                for item, done in zip(order.items, picks_done, strict=True)
            ]
            lines.append(("PACK", "PACK-01", order.items[0].material, len(order.items), dock_done))
            lines.append(("SHIP", "DOCK-01", order.items[0].material, 1, dock_done))
            for kind, bin_code, sku, qty, done in lines:
                tasks.append(
                    Task(
                        task_id=f"T-{200001 + len(tasks)}",
                        type=kind,
                        order_ref=order.doc_no,
                        warehouse=order.warehouse,
                        bin=bin_code,
                        sku=sku,
                        qty=qty,
                        state="done" if done else "open",
                        done_at=start + timedelta(minutes=15 * len(tasks) % 600) if done else None,
                    )
                )
        return tuple(tasks)

    def _tracking_number(self, lifecycle: Lifecycle) -> str:
        digits = lifecycle.tracking_digits
        while True:
            candidate = lifecycle.tracking_prefix + "".join(
                str(self.rng.randrange(10)) for _ in range(digits)
            )
            if candidate not in self.used_tracking:
                self.used_tracking.add(candidate)
                return candidate

    def _shipments(
        self, orders: tuple[Order, ...], materials: dict[str, Material]
    ) -> tuple[Shipment, ...]:
        rng = self.rng
        cycle_position = dict.fromkeys(BY_CARRIER, 0)
        warehouses = {warehouse.code: warehouse for warehouse in WAREHOUSES}
        shipments: list[Shipment] = []
        for order in orders:
            tendered_only = order.status == "REL" and rng.random() < 0.5
            cancelled = order.status == "CNCL" and rng.random() < 0.4
            if order.status not in ("PART", "SHIP", "INV") and not tendered_only and not cancelled:
                continue
            origin = warehouses[order.warehouse].place
            domestic_us = origin.country == "US"
            carrier = rng.choice(("SWFT", "RDLN", "HRTG")) if domestic_us else "SWFT"
            lifecycle = BY_CARRIER[carrier]
            weight = sum(
                (materials[item.material].gross_weight * item.qty for item in order.items),
                Decimal(0),
            )
            weight = max(weight.quantize(Decimal("0.1")), Decimal("0.5"))
            if carrier == "SWFT":
                pieces = max(1, math.ceil(weight / 20))
                length, width, height = 40, 30, 30
                service = "EXPRESS" if rng.random() < 0.3 else "STANDARD"
                amount = Decimal("6.95") + weight * Decimal("0.45")
            else:
                pieces = max(1, math.ceil(weight / 400))
                length, width, height = 120, 80, 150
                service = "LTL" if carrier == "RDLN" else "LTL_STANDARD"
                amount = Decimal("85.00") + weight * Decimal("0.18")
            parcels = tuple(
                {
                    "weight_kg": float((weight / pieces).quantize(Decimal("0.1"))),
                    "length_cm": length,
                    "width_cm": width,
                    "height_cm": height,
                }
                for _ in range(pieces)
            )
            created = datetime.combine(order.doc_date + timedelta(days=1), time(6), tzinfo=UTC)
            created += timedelta(minutes=rng.randint(0, 240))
            tracking = self._tracking_number(lifecycle)
            if cancelled:
                booking_status, history = "CANCELLED", ()
            elif tendered_only:
                booking_status, history = "TENDERED", (lifecycle.first,)
            else:
                final = lifecycle.final_cycle[cycle_position[carrier] % len(lifecycle.final_cycle)]
                cycle_position[carrier] += 1
                booking_status, history = "BOOKED", lifecycle.histories[final]
            shipments.append(
                Shipment(
                    order_ref=order.doc_no,
                    booking_id=f"BK-{300001 + len(shipments)}",
                    carrier=carrier,
                    service=service,
                    tracking_number=tracking,
                    booking_status=booking_status,
                    parcels=parcels,
                    amount=money(amount),
                    currency="USD" if domestic_us else "EUR",
                    created_at=created,
                    weight_kg=weight,
                    pieces=pieces,
                    origin=origin,
                    destination=order.ship_to,
                    milestones=self._milestones(lifecycle, history, created, origin, order),
                )
            )
        return tuple(shipments)

    def _milestones(
        self,
        lifecycle: Lifecycle,
        history: tuple[str, ...],
        created: datetime,
        origin: Place,
        order: Order,
    ) -> tuple[Milestone, ...]:
        rng = self.rng
        if not history:
            return ()
        hub = rng.choice(HUBS_US if origin.country == "US" else HUBS_EU)
        available = (LATEST_EVENT - created).total_seconds() / (len(history) + 1)
        step_limit = max(1800.0, min(available, 14 * 3600.0))
        moment = created
        milestones: list[Milestone] = []
        for code in history:
            moment += timedelta(minutes=max(1, int(rng.uniform(0.3, 1.0) * step_limit / 60)))
            place = place_for(code, origin, order.ship_to.place, hub)
            reason = None
            if code == "EX":
                reason = rng.choice(SWIFT_EXCEPTIONS)
            elif lifecycle.carrier == "HRTG":
                reason = {"AP": rng.choice(("A1", "AH")), "SD": "AJ"}.get(code, "NS")
            milestones.append(Milestone(code=code, at=moment, place=place, reason=reason))
        return tuple(milestones)

    def _invoices(
        self, orders: tuple[Order, ...], shipments: tuple[Shipment, ...]
    ) -> tuple[Invoice, ...]:
        rng = self.rng
        by_order = {s.order_ref: s for s in shipments if s.booking_status == "BOOKED"}
        customers = {customer.cust_no: customer for customer in CUSTOMERS}
        invoices: list[Invoice] = []
        for order in orders:
            if order.status != "INV":
                continue
            shipment = by_order.get(order.doc_no)
            net = money(sum((item.net_price * item.qty for item in order.items), Decimal(0)))
            tax = money(net * TAX_RATES.get(customers[order.sold_to].country, Decimal("0.0725")))
            inv_date = order.doc_date + timedelta(days=rng.randint(3, 8))
            freight = (
                (Freight(shipment.carrier, shipment.tracking_number, shipment.amount),)
                if shipment
                else ()
            )
            invoices.append(
                Invoice(
                    inv_no=f"INV-{5000001 + len(invoices)}",
                    sales_doc=order.doc_no,
                    bill_to=order.sold_to,
                    inv_date=inv_date,
                    due_date=inv_date + timedelta(days=30),
                    currency=order.currency,
                    net=net,
                    tax=tax,
                    gross=net + tax,
                    freight=freight,
                    status="PAID" if rng.random() < 0.6 else "OPEN",
                )
            )
        return tuple(invoices)


def _returns(seed: int, orders: tuple[Order, ...]) -> tuple[ReturnOrder, ...]:
    """Return authorizations on the oldest shipped orders of the returning customers.

    Drawn from a random stream of their own, so adding them changed nothing else in the world.
    """
    rng = random.Random(f"returns-{seed}")
    returns: list[ReturnOrder] = []
    for customer in RETURNING_CUSTOMERS:
        shipped = [o for o in orders if o.sold_to == customer and o.status in ("SHIP", "INV")]
        for status, order in zip(RETURN_STATUSES, shipped, strict=False):
            number = 400001 + len(returns)
            created = datetime.combine(
                order.req_delivery_date + timedelta(days=rng.randint(2, 9)), time(10), tzinfo=UTC
            ) + timedelta(minutes=rng.randint(0, 300))
            returned = rng.sample(order.items, rng.randint(1, min(2, len(order.items))))
            items = tuple(
                ReturnItem(
                    pos=10 * (index + 1),
                    ref_pos=item.pos,
                    material=item.material,
                    qty=rng.randint(1, item.qty),
                    uom=item.uom,
                    reason_code=rng.choice(RETURN_REASONS),
                    grade="D" if rng.random() < 0.3 else "A",
                )
                for index, item in enumerate(sorted(returned, key=lambda item: item.pos))
            )
            received = status == "RCVD"
            returns.append(
                ReturnOrder(
                    rma_no=f"RMA-{number}",
                    ref_doc=order.doc_no,
                    sold_to=customer,
                    plant=order.warehouse,
                    status=status,
                    created_at=created,
                    items=items,
                    carrier_tracking=f"1ZRET{number:08d}" if status != "AUTH" else None,
                    receipt_no=f"RR-{number - 400000 + 900000}" if received else None,
                    received_at=created + timedelta(days=rng.randint(2, 5)) if received else None,
                )
            )
    return tuple(returns)
