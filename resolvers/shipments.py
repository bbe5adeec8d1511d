"""The shipments subgraph: one view of a shipment across the TMS, the WMS and its carrier,
answered from the read models (so it answers while the TMS or a carrier is down)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from domain.shipments import Milestone as DomainMilestone
from domain.shipments import MilestoneStatus as DomainMilestoneStatus
from process_apis.cache_tags import shipment_tag
from process_apis.tracking import TrackedShipment
from resolvers import access
from resolvers.audiences import PARTNER
from resolvers.cache_control import FRESHNESS, INHERIT, CacheControl, announce
from resolvers.context import context_of
from resolvers.cost import MILESTONES, SHIPMENTS_OF_ORDER
from resolvers.guard import or_none, or_raise
from resolvers.loaders import loaders_of
from resolvers.schema import SubgraphSchema
from resolvers.values import identifier

ShipmentStatus = strawberry.enum(
    DomainMilestoneStatus,
    name="ShipmentStatus",
    description="The coarse status every carrier's codes map onto.",
)


@strawberry.type(
    description="One carrier event: the canonical status and the carrier's words.",
    directives=[INHERIT, PARTNER],
)
class Milestone:
    status: ShipmentStatus
    occurred_at: datetime
    carrier_code: str
    carrier_description: str
    reason: str | None
    city: str | None
    region: str | None
    country: str | None

    @classmethod
    def of(cls, milestone: DomainMilestone) -> Milestone:
        return cls(
            status=milestone.status,
            occurred_at=milestone.occurred_at,
            carrier_code=milestone.carrier_code,
            carrier_description=milestone.carrier_description,
            reason=milestone.reason,
            city=milestone.city,
            region=milestone.region,
            country=milestone.country,
        )


@strawberry.type(directives=[INHERIT, PARTNER])
class Package:
    package_id: str
    weight_kg: Decimal


@strawberry.federation.type(
    keys=["trackingNumber"],
    policy=access.TENANT_MEMBER,
    directives=[CacheControl(max_age=15), PARTNER],
)
class Shipment:
    tracking_number: strawberry.ID
    booking_id: str | None = strawberry.field(
        description="The TMS booking; null until the booking has been read from the TMS."
    )
    carrier: str
    service: str | None = strawberry.field(
        description="The carrier service booked; null until the booking has been read."
    )
    status: ShipmentStatus | None = strawberry.field(
        description="Current status; a late event never moves it backwards."
    )
    current: Milestone | None = strawberry.field(
        description="The milestone that states the current status, with the carrier's own code."
    )
    milestones: list[Milestone] = strawberry.federation.field(
        description="Every event, oldest first.", directives=[MILESTONES]
    )
    packages: list[Package]
    live: bool = strawberry.field(
        description="Always false: shipments are answered from the read models, which the "
        "carriers' webhooks and feeds keep current.",
        deprecation_reason="Shipments are answered from the read models, never live.",
    )
    as_of: datetime | None = strawberry.field(
        description="When the TMS and the shipment's carrier were last heard from (the older "
        "of the two), which this answer is as current as; null until both have been heard from.",
        directives=[FRESHNESS],
    )
    stale: bool = strawberry.field(
        description="True when the TMS or the shipment's carrier has not been heard from "
        "within its configured window: the status may have moved on since.",
        directives=[FRESHNESS],
    )
    order: OrderShipments

    @classmethod
    def of(cls, tracked: TrackedShipment) -> Shipment:
        shipment = tracked.shipment
        current = shipment.current
        announce(shipment_tag(shipment.tracking_number))
        return cls(
            tracking_number=strawberry.ID(shipment.tracking_number),
            booking_id=shipment.shipment_id or None,
            carrier=shipment.carrier,
            service=shipment.service or None,
            status=current.status if current else None,
            current=Milestone.of(current) if current else None,
            milestones=[Milestone.of(m) for m in shipment.milestones],
            packages=[
                Package(package_id=p.package_id, weight_kg=p.weight.in_kilograms())
                for p in shipment.packages
            ],
            live=tracked.live,
            as_of=tracked.freshness.as_of,
            stale=tracked.freshness.stale,
            order=OrderShipments(id=strawberry.ID(shipment.order_id)),
        )

    @classmethod
    async def resolve_reference(
        cls, info: strawberry.Info, **representation: object
    ) -> Shipment | None:
        """A reference from another subgraph: strawberry passes the representation's keys as
        the schema spells them (`trackingNumber`), not as Python names."""
        tracking_number = representation.get("trackingNumber")
        if not isinstance(tracking_number, str):
            return None
        return await _shipment(info, tracking_number)


async def _shipment(info: strawberry.Info, tracking_number: str) -> Shipment | None:
    tracking_number = identifier(tracking_number, "trackingNumber")
    context = context_of(info)
    tracked = await or_none(
        context.services.tracking.by_tracking_number(context.principal.tenant_id, tracking_number)
    )
    return Shipment.of(tracked) if tracked else None


@strawberry.federation.type(keys=["id"], name="Order")
class OrderShipments:
    id: strawberry.ID

    @strawberry.federation.field(
        description="The order's shipments, each with its current status; null when the TMS "
        "cannot answer, with an error saying so, while the rest of the order stands.",
        directives=[SHIPMENTS_OF_ORDER, PARTNER],
    )
    async def shipments(self, info: strawberry.Info) -> list[Shipment] | None:
        order_id = identifier(self.id, "id")
        tracked = await or_raise(loaders_of(info).shipments_of_order.load(order_id))
        return [Shipment.of(t) for t in tracked]

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> OrderShipments:
        return cls(id=id)


@strawberry.type
class Query:
    @strawberry.federation.field(
        requires_scopes=access.READ,
        description="A shipment of the calling customer by its tracking number.",
        directives=[PARTNER],
    )
    async def shipment(self, info: strawberry.Info, tracking_number: str) -> Shipment | None:
        return await _shipment(info, tracking_number)


schema = SubgraphSchema(query=Query)
