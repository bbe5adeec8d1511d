"""The live subgraph: subscriptions fed by the event backbone.

Each event answers with what changed and a reference to its entity (a shipment by tracking
number, an order, an item, a workflow by id); the router resolves the rest of a client's
selection from the subgraphs that own the entity, per event. Each event's result carries its
position in the event log as `extensions.eventId`: the id a client reconnects with; the
router hands it back in the context as `last_event_id`, and the stream resumes after it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import strawberry
from strawberry.extensions import SchemaExtension

from process_apis.live.changes import InventoryChange, OrderChange, ShipmentChange, WorkflowChange
from process_apis.live.hub import HubClosed, ListenerFellBehind
from process_apis.live.updates import ResumeTooFarBack
from process_apis.visibility import NotFound
from resolvers import access
from resolvers.audiences import PARTNER
from resolvers.context import context_of
from resolvers.errors import PublicError, public_backend_error
from resolvers.orders import OrderStatus
from resolvers.schema import SubgraphSchema
from resolvers.shipments import ShipmentStatus
from resolvers.values import BAD_USER_INPUT, identifier
from stores.event_log import EventLogUnavailable
from system_apis.errors import BackendError

LAST_EVENT_ID = "last_event_id"
"""The context key under which the router passes the id of the last event a client saw."""

MAX_EVENT_ID_LENGTH = 20
Event = TypeVar("Event")


@strawberry.federation.type(keys=["trackingNumber"])
class Shipment:
    tracking_number: strawberry.ID

    @classmethod
    def resolve_reference(cls, **representation: object) -> Shipment:
        """Keys arrive as the schema spells them (`trackingNumber`)."""
        return cls(tracking_number=strawberry.ID(str(representation.get("trackingNumber", ""))))


@strawberry.federation.type(keys=["id"])
class Order:
    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Order:
        return cls(id=id)


@strawberry.federation.type(keys=["sku"])
class Item:
    sku: strawberry.ID

    @classmethod
    def resolve_reference(cls, sku: strawberry.ID) -> Item:
        return cls(sku=sku)


@strawberry.federation.type(keys=["id"])
class Workflow:
    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Workflow:
        return cls(id=id)


@strawberry.type(description="A carrier milestone as its event reported it.", directives=[PARTNER])
class ReportedMilestone:
    status: ShipmentStatus
    occurred_at: datetime
    carrier_code: str
    carrier_description: str
    reason: str | None
    city: str | None
    region: str | None
    country: str | None


@strawberry.type(
    description="A shipment event, once the shipment read models show it.", directives=[PARTNER]
)
class ShipmentUpdate:
    event_id: strawberry.ID = strawberry.field(description="Resume after this id.")
    event_type: str
    occurred_at: datetime
    milestone: ReportedMilestone | None = strawberry.field(
        description="The milestone this event reports, a late one too; null for other events."
    )
    status: ShipmentStatus | None = strawberry.field(
        description="The shipment's current status with this event: it never goes backwards."
    )
    shipment: Shipment

    @classmethod
    def of(cls, change: ShipmentChange) -> ShipmentUpdate:
        milestone = change.milestone
        return cls(
            event_id=strawberry.ID(str(change.position)),
            event_type=change.event_type,
            occurred_at=change.occurred_at,
            milestone=None
            if milestone is None
            else ReportedMilestone(
                status=milestone.status,
                occurred_at=milestone.occurred_at,
                carrier_code=milestone.carrier_code,
                carrier_description=milestone.carrier_description,
                reason=milestone.reason,
                city=milestone.city,
                region=milestone.region,
                country=milestone.country,
            ),
            status=change.status,
            shipment=Shipment(tracking_number=strawberry.ID(change.tracking_number)),
        )


@strawberry.type(
    description="An order's status as the ERP reported a change.", directives=[PARTNER]
)
class OrderStatusChange:
    event_id: strawberry.ID = strawberry.field(description="Resume after this id.")
    event_type: str
    occurred_at: datetime
    status: OrderStatus | None
    order: Order

    @classmethod
    def of(cls, change: OrderChange) -> OrderStatusChange:
        return cls(
            event_id=strawberry.ID(str(change.position)),
            event_type=change.event_type,
            occurred_at=change.occurred_at,
            status=change.status,
            order=Order(id=strawberry.ID(change.order_id)),
        )


@strawberry.type(description="A stock position of an item changed in a warehouse bin.")
class InventoryUpdate:
    event_id: strawberry.ID = strawberry.field(description="Resume after this id.")
    event_type: str
    occurred_at: datetime
    warehouse_id: str
    bin: str | None
    unit: str | None
    on_hand: Decimal | None
    available_to_promise: Decimal | None
    delta: Decimal | None
    reason: str | None
    item: Item

    @classmethod
    def of(cls, change: InventoryChange) -> InventoryUpdate:
        return cls(
            event_id=strawberry.ID(str(change.position)),
            event_type=change.event_type,
            occurred_at=change.occurred_at,
            warehouse_id=change.warehouse_id,
            bin=change.bin,
            unit=change.unit,
            on_hand=change.on_hand,
            available_to_promise=change.available_to_promise,
            delta=change.delta,
            reason=change.reason,
            item=Item(sku=strawberry.ID(change.sku)),
        )


@strawberry.type(description="A workflow moved: a step started, completed, failed or compensated.")
class WorkflowUpdate:
    event_id: strawberry.ID = strawberry.field(description="Resume after this id.")
    event_type: str
    occurred_at: datetime
    step: str | None
    state: str | None
    workflow: Workflow

    @classmethod
    def of(cls, change: WorkflowChange) -> WorkflowUpdate:
        return cls(
            event_id=strawberry.ID(str(change.position)),
            event_type=change.event_type,
            occurred_at=change.occurred_at,
            step=change.step,
            state=change.state,
            workflow=Workflow(id=strawberry.ID(change.workflow_id)),
        )


LIVE_UPDATES = (ShipmentUpdate, OrderStatusChange, InventoryUpdate, WorkflowUpdate)


class EventIds(SchemaExtension):
    """Puts each event's id into its result's extensions (`eventId`), where the router reads it
    for the client's transport (an SSE id, a resumable WebSocket message)."""

    def __init__(self, *, execution_context: Any = None) -> None:
        self._event_id: str | None = None

    def resolve(self, _next: Callable[..., Any], root: Any, info: Any, *args: Any, **kwargs: Any):
        if info.path.prev is None and isinstance(root, LIVE_UPDATES):
            self._event_id = str(root.event_id)
        return _next(root, info, *args, **kwargs)

    def get_results(self) -> dict[str, Any]:
        """Read once per result: an error that ends the stream carries no event's id."""
        event_id, self._event_id = self._event_id, None
        return {} if event_id is None else {"eventId": event_id}


def last_event_id(info: strawberry.Info) -> int | None:
    """The position the client last saw, from the router's context; None to start now."""
    context = info.context if isinstance(info.context, Mapping) else {}
    value = context.get(LAST_EVENT_ID)
    if value is None or value == "":
        return None
    text = str(value)
    if len(text) > MAX_EVENT_ID_LENGTH or not text.isascii() or not text.isdigit():
        raise PublicError(
            "the last event id is not one this API issued: expected the eventId of an event",
            BAD_USER_INPUT,
        )
    return int(text)


async def _served(
    changes: AsyncIterator[Any], present: Callable[[Any], Event]
) -> AsyncGenerator[Event, None]:
    """The process API's stream as the client's: its failures as public errors."""
    try:
        async for change in changes:
            yield present(change)
    except NotFound as error:
        raise PublicError(error.public_message, "NOT_FOUND") from None
    except ResumeTooFarBack as error:
        raise PublicError(error.public_message, BAD_USER_INPUT) from None
    except ListenerFellBehind as error:
        raise PublicError(
            f"this subscription fell behind and was closed; resume after event "
            f"{error.last_position}",
            "SUBSCRIPTION_FELL_BEHIND",
        ) from None
    except EventLogUnavailable:
        raise PublicError(
            "live updates are unavailable right now; subscribe again shortly",
            "EVENT_LOG_UNAVAILABLE",
        ) from None
    except HubClosed:
        raise PublicError("the server is shutting down; resume later", "SHUTTING_DOWN") from None
    except BackendError as error:
        raise public_backend_error(error) from None


@strawberry.type
class Subscription:
    @strawberry.federation.field(
        is_subscription=True,
        requires_scopes=access.READ,
        description="A shipment's changes, by its tracking number or for every shipment of an "
        "order (exactly one of the two). Each milestone once, a late one too; the status never "
        "goes backwards.",
        directives=[PARTNER],
    )
    async def shipment_updated(
        self,
        info: strawberry.Info,
        tracking_number: str | None = None,
        order_id: strawberry.ID | None = None,
    ) -> AsyncGenerator[ShipmentUpdate, None]:
        if (tracking_number is None) == (order_id is None):
            raise PublicError("give exactly one of trackingNumber and orderId", BAD_USER_INPUT)
        tracking = (
            None if tracking_number is None else identifier(tracking_number, "trackingNumber")
        )
        order = None if order_id is None else identifier(order_id, "orderId")
        after = last_event_id(info)
        context = context_of(info)
        changes = context.services.live.shipment_changes(
            context.principal.tenant_id, tracking_number=tracking, order_id=order, after=after
        )
        async for update in _served(changes, ShipmentUpdate.of):
            yield update

    @strawberry.federation.field(
        is_subscription=True,
        requires_scopes=access.READ,
        description="An order's status changes, as the ERP reports them.",
        directives=[PARTNER],
    )
    async def order_status_changed(
        self, info: strawberry.Info, order_id: strawberry.ID
    ) -> AsyncGenerator[OrderStatusChange, None]:
        order = identifier(order_id, "orderId")
        after = last_event_id(info)
        context = context_of(info)
        changes = context.services.live.order_changes(
            context.principal.tenant_id, order, after=after
        )
        async for update in _served(changes, OrderStatusChange.of):
            yield update

    @strawberry.federation.field(
        is_subscription=True,
        requires_scopes=access.READ,
        description="An item's stock changes, in one warehouse or all.",
    )
    async def inventory_changed(
        self, info: strawberry.Info, sku: strawberry.ID, warehouse_id: strawberry.ID | None = None
    ) -> AsyncGenerator[InventoryUpdate, None]:
        checked = identifier(sku, "sku")
        warehouse = None if warehouse_id is None else identifier(warehouse_id, "warehouseId")
        after = last_event_id(info)
        context = context_of(info)
        changes = context.services.live.inventory_changes(
            context.principal.tenant_id, checked, warehouse_id=warehouse, after=after
        )
        async for update in _served(changes, InventoryUpdate.of):
            yield update

    @strawberry.federation.field(
        is_subscription=True,
        requires_scopes=access.READ,
        description="A workflow's steps as they happen.",
    )
    async def workflow_changed(
        self, info: strawberry.Info, id: strawberry.ID
    ) -> AsyncGenerator[WorkflowUpdate, None]:
        workflow = identifier(id, "id")
        after = last_event_id(info)
        context = context_of(info)
        changes = context.services.live.workflow_changes(
            context.principal.tenant_id, workflow, after=after
        )
        async for update in _served(changes, WorkflowUpdate.of):
            yield update


schema = SubgraphSchema(
    subscription=Subscription,
    types=[Shipment, Order, Item, Workflow],
    extensions=[EventIds],
)
