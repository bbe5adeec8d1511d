"""What the three carriers share: their shipments, moving them on, and emitting any status.

Each carrier module says only how it records and publishes one status (`publish`) in its own
format: a JSON webhook, a polled status row, or an X12 214 interchange.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, ClassVar

from sandbox.lifecycles import Lifecycle
from sandbox.seed import HUBS_EU, HUBS_US, Milestone, Place, Shipment, World, place_for
from sandbox.service import Backend, not_found, utc_now, validation_error


def place_document(place: Place) -> dict[str, str]:
    return {
        "city": place.city,
        "state": place.state,
        "country": place.country,
        "timezone": place.timezone,
        "terminal": place.terminal,
    }


def shipment_document(shipment: Shipment) -> dict[str, Any]:
    """The carrier's own record of a shipment; `status` is the latest status it recorded."""
    return {
        "tracking_number": shipment.tracking_number,
        "order_ref": shipment.order_ref,
        "booking_id": shipment.booking_id,
        "service": shipment.service,
        "status": shipment.milestones[-1].code,
        "pieces": shipment.pieces,
        "weight_kg": str(shipment.weight_kg),
        "shipper": f"{shipment.origin.city} distribution center",
        "consignee": shipment.destination.name,
        "origin": place_document(shipment.origin),
        "destination": place_document(shipment.destination.place),
    }


def status_timeline(shipments: list[Shipment]) -> list[tuple[str, Milestone]]:
    """Every seeded status as (tracking number, milestone), in the order they happened."""
    timeline = sorted(
        ((m.at, s.tracking_number, m) for s in shipments for m in s.milestones),
        key=lambda entry: (entry[0], entry[1]),
    )
    return [(tracking, milestone) for _, tracking, milestone in timeline]


class CarrierBackend(Backend):
    """A carrier: shipments keyed by tracking number, statuses from its `lifecycle`."""

    lifecycle: ClassVar[Lifecycle]
    indexed_fields: ClassVar[tuple[str, ...]] = ("order_ref", "tracking_number")

    def load(self, world: World) -> None:
        shipments = [
            s for s in world.shipments if s.carrier == self.lifecycle.carrier and s.milestones
        ]
        self.store.insert_many(
            "shipments", ((s.tracking_number, shipment_document(s)) for s in shipments)
        )
        self.load_history(shipments)

    def load_history(self, shipments: list[Shipment]) -> None:
        """Store the seeded statuses in this carrier's own format."""
        raise NotImplementedError

    def publish(
        self,
        shipment: dict[str, Any],
        status: str,
        occurred_at: datetime,
        reason: str | None,
        place: Place,
    ) -> dict[str, Any]:
        """Record one status and send it out the carrier's way; answers what was made."""
        raise NotImplementedError

    def find_shipment(self, reference: str) -> dict[str, Any] | None:
        shipment = self.store.get("shipments", reference)
        if shipment is None:
            by_order = self.store.find("shipments", order_ref=reference)
            shipment = by_order[-1] if by_order else None
        return shipment

    def _new_shipment(self, tracking_number: str, extra: dict[str, Any]) -> dict[str, Any]:
        """A shipment first heard of through `/_admin/emit` (e.g. booked at run time)."""
        hub = (HUBS_US if tracking_number.startswith(("RL", "HF")) else HUBS_EU)[0]
        return {
            "tracking_number": tracking_number,
            "order_ref": extra.get("order_ref", ""),
            "booking_id": extra.get("booking_id", ""),
            "service": extra.get("service", "STANDARD"),
            "status": "",
            "pieces": 1,
            "weight_kg": "10.0",
            "shipper": f"{hub.city} distribution center",
            "consignee": extra.get("consignee", "Consignee"),
            "origin": place_document(hub),
            "destination": place_document(hub),
        }

    def _record(
        self, shipment: dict[str, Any], status: str, occurred_at: datetime, reason: str | None
    ) -> dict[str, Any]:
        origin = Place(**shipment["origin"])
        destination = Place(**shipment["destination"])
        hub = (HUBS_US if origin.country == "US" else HUBS_EU)[0]
        shipment["status"] = status
        self.store.put("shipments", shipment["tracking_number"], shipment)
        place = place_for(status, origin, destination, hub)
        return self.publish(shipment, status, occurred_at, reason, place)

    async def advance(self, reference: str, steps: int) -> list[dict[str, Any]]:
        shipment = self.find_shipment(reference)
        if shipment is None:
            raise not_found(f"shipment {reference}")
        start = utc_now()
        events = []
        with self.store.transaction():
            for index, status in enumerate(self.lifecycle.follow(shipment["status"], steps)):
                moment = start + timedelta(seconds=index)
                events.append(self._record(shipment, status, moment, None))
        return events

    async def emit(
        self, reference: str, status: str, occurred_at: datetime, extra: dict[str, Any]
    ) -> list[dict[str, Any]]:
        if status not in self.lifecycle.codes:
            detail = {"field": "status", "message": f"must be one of {self.lifecycle.codes}"}
            raise validation_error([detail])
        shipment = self.find_shipment(reference)
        if shipment is None:
            if not re.fullmatch(self.lifecycle.tracking_pattern, reference):
                raise not_found(f"shipment {reference}")
            shipment = self._new_shipment(reference, extra)
        reason = extra.get("reason")
        with self.store.transaction():
            return [self._record(shipment, status, occurred_at, reason)]

    async def simulate_step(self) -> None:
        moving = [
            s["tracking_number"]
            for s in self.store.find("shipments")
            if not self.lifecycle.is_terminal(s["status"])
        ]
        for reference in self.random.sample(moving, min(self.simulate_batch, len(moving))):
            await self.advance(reference, 1)
