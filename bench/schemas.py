"""The three benchmark subgraphs: their SDL, their deterministic data and the two queries.

Kept apart from the HTTP server so the harness can check a gateway's answers against the
same functions that produce the subgraphs' data.
"""

from __future__ import annotations

from typing import Any

ORDER_COUNT = 10
"""How many orders the queries ask for: the fan-out of each `_entities` step."""

FED_LINK = (
    'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])\n'
)

ORDERS_SDL = (
    FED_LINK
    + """
type Query {
  orders(first: Int! = 10): [Order!]!
  order(id: ID!): Order
}

type Mutation {
  "Books a pickup; count is how many this reference booked for the order, this one included."
  bookPickup(reference: String!, orderId: ID!): Pickup!
}

type Pickup {
  count: Int!
  order: Order!
}

type Order @key(fields: "id") {
  id: ID!
  number: String!
  customer: String!
  total: Float!
  currency: String!
  createdAt: String!
}
"""
)

SHIPMENTS_SDL = (
    FED_LINK
    + """
type Order @key(fields: "id") {
  id: ID!
  shipment: Shipment
}

type Shipment @key(fields: "id") {
  id: ID!
  carrier: String!
  trackingNumber: String!
  weightKg: Float!
}
"""
)

TRACKING_SDL = (
    FED_LINK
    + """
type Shipment @key(fields: "id") {
  id: ID!
  status: String!
  eta: String!
  milestones: [Milestone!]!
}

type Milestone {
  code: String!
  at: String!
  location: String!
}
"""
)

SUBGRAPHS: dict[str, str] = {
    "orders": ORDERS_SDL,
    "shipments": SHIPMENTS_SDL,
    "tracking": TRACKING_SDL,
}
"""Subgraph name -> SDL; the name is also the URL path the subgraph server answers on."""

FLAT_QUERY = f"""query Flat {{
  orders(first: {ORDER_COUNT}) {{ id number customer total currency createdAt }}
}}"""
"""Needs the orders subgraph only: measures the gateway's fixed per-request cost."""

DEEP_QUERY = f"""query Deep {{
  orders(first: {ORDER_COUNT}) {{
    id
    number
    shipment {{
      id
      carrier
      trackingNumber
      status
      eta
      milestones {{ code at location }}
    }}
  }}
}}"""
"""Orders -> shipments via `_entities` -> tracking via `_entities`: three sequential fetches."""

QUERIES: dict[str, str] = {"flat": FLAT_QUERY, "deep": DEEP_QUERY}

_CARRIERS = ("DHL", "UPS", "FEDEX", "DPD")
_STATUSES = ("IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED")


def _index(entity_id: str) -> int:
    """Entity ids end in their index; every field is a pure function of it."""
    return int(entity_id.rsplit("-", 1)[1])


def order(i: int) -> dict[str, Any]:
    """Fields the orders subgraph owns for order number `i`."""
    return {
        "__typename": "Order",
        "id": f"O-{i}",
        "number": f"SO-{100000 + i}",
        "customer": f"Customer {i % 7}",
        "total": round(10.5 * (i + 1), 2),
        "currency": "EUR",
        "createdAt": f"2024-05-{1 + i % 28:02d}T08:00:00Z",
    }


def order_shipping(order_id: str) -> dict[str, Any]:
    """Fields the shipments subgraph adds to an Order entity."""
    i = _index(order_id)
    return {"__typename": "Order", "id": order_id, "shipment": shipment(f"S-{i}")}


def shipment(shipment_id: str) -> dict[str, Any]:
    """Fields the shipments subgraph owns for a Shipment."""
    i = _index(shipment_id)
    return {
        "__typename": "Shipment",
        "id": shipment_id,
        "carrier": _CARRIERS[i % len(_CARRIERS)],
        "trackingNumber": f"1Z{i:010d}",
        "weightKg": 1.25 + i,
    }


def tracking(shipment_id: str) -> dict[str, Any]:
    """Fields the tracking subgraph adds to a Shipment entity."""
    i = _index(shipment_id)
    return {
        "__typename": "Shipment",
        "id": shipment_id,
        "status": _STATUSES[i % len(_STATUSES)],
        "eta": f"2024-06-{1 + i % 28:02d}",
        "milestones": [
            {"code": code, "at": f"2024-05-{1 + (i + k) % 28:02d}T1{k}:00:00Z", "location": loc}
            for k, (code, loc) in enumerate(
                (("PICKED_UP", "Hamburg"), ("IN_TRANSIT", "Hannover"), ("ARRIVED", "Berlin"))
            )
        ],
    }


def expected_data(name: str) -> dict[str, Any]:
    """The `data` a correct gateway returns for QUERIES[name]."""
    rows: list[dict[str, Any]] = []
    for i in range(ORDER_COUNT):
        o = order(i)
        if name == "flat":
            rows.append({k: v for k, v in o.items() if k != "__typename"})
            continue
        s = shipment(f"S-{i}")
        t = tracking(f"S-{i}")
        rows.append(
            {
                "id": o["id"],
                "number": o["number"],
                "shipment": {
                    "id": s["id"],
                    "carrier": s["carrier"],
                    "trackingNumber": s["trackingNumber"],
                    "status": t["status"],
                    "eta": t["eta"],
                    "milestones": t["milestones"],
                },
            }
        )
    return {"orders": rows}
